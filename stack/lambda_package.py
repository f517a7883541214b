"""Builds lambda/payload.zip reproducibly: the same sources always give the same bytes."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from stack.paths import LAMBDA_PAYLOAD, LAMBDA_SOURCE_DIR

SOURCES = ("function.py", "order.schema.json")
_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold


def build_payload(target: Path = LAMBDA_PAYLOAD) -> Path:
    """Write the deployment package; rewrite it only when its bytes would change."""
    staging = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in SOURCES:
            entry = zipfile.ZipInfo(name, date_time=_FIXED_TIMESTAMP)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, (LAMBDA_SOURCE_DIR / name).read_bytes())
    if target.exists() and target.read_bytes() == staging.read_bytes():
        staging.unlink()
    else:
        staging.replace(target)
    return target


if __name__ == "__main__":
    print(build_payload(Path(sys.argv[1]) if len(sys.argv) > 1 else LAMBDA_PAYLOAD))
