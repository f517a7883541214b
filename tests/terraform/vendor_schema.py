"""Regenerate the vendored provider schema: the resource and data source types terraform/ uses, from ../shared.

    .venv/bin/python tests/terraform/vendor_schema.py [FULL_SCHEMA.json.gz]

Run it after adding a resource or data source type to terraform/, so the offline checks know it.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from hcl_checks import PROVIDER, REPO_ROOT, SCHEMA_PATH, TERRAFORM_DIR, load_module

FULL_SCHEMA = REPO_ROOT.parent / "shared" / "terraform-schema" / "aws-provider-6.47.0.schema.json.gz"


def subset(document: dict[str, Any], resources: set[str], data_sources: set[str]) -> dict[str, Any]:
    """Return the schema document with only the given resource and data source types."""
    schemas = document["provider_schemas"][PROVIDER]
    return {
        "format_version": document["format_version"],
        "provider_schemas": {
            PROVIDER: {
                "resource_schemas": {name: schemas["resource_schemas"][name] for name in sorted(resources)},
                "data_source_schemas": {name: schemas["data_source_schemas"][name] for name in sorted(data_sources)},
            }
        },
    }


def main(source: Path = FULL_SCHEMA, target: Path = SCHEMA_PATH) -> None:
    """Write the subset terraform/ needs, sorted and indented so that a change reads as a diff."""
    module = load_module(TERRAFORM_DIR)
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        document = json.load(handle)
    resources = {type_name for type_name, _ in module.resources}
    data_sources = {type_name for type_name, _ in module.data}
    target.write_text(json.dumps(subset(document, resources, data_sources), indent=1, sort_keys=True) + "\n")
    print(f"{target}: {len(resources)} resource and {len(data_sources)} data source types")


if __name__ == "__main__":
    main(*(Path(argument) for argument in sys.argv[1:2]))
