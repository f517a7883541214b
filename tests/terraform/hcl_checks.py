"""Offline checks of a Terraform directory against the hashicorp/aws provider schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
# The hashicorp/aws 6.47.0 schema of the types terraform/ uses, vendored by vendor_schema.py.
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "aws-provider-6.47.0-subset.json"
PROVIDER = "registry.terraform.io/hashicorp/aws"

META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider"}

VAR_REF = re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)")
LOCAL_REF = re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)")
DATA_REF = re.compile(r"(?<![\w.])data\.([a-z]\w*)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_]\w*))?")
RESOURCE_REF = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_]\w*))?")


@dataclass(frozen=True)
class Block:
    """One labelled block (resource, data source, variable, output) and where it is."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: str

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}" if self.type else f"{self.kind}.{self.name}"


@dataclass
class Module:
    """The parsed .tf files of one directory."""

    resources: dict[tuple[str, str], Block] = field(default_factory=dict)
    data: dict[tuple[str, str], Block] = field(default_factory=dict)
    variables: dict[str, Block] = field(default_factory=dict)
    outputs: dict[str, Block] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    other: list[Block] = field(default_factory=list)


def unquote(value: Any) -> Any:
    """Return a quoted HCL string literal without its quotes; other values unchanged."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def is_block(value: Any) -> bool:
    """Tell whether a parsed value is a list of block bodies rather than an attribute."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") for item in value)
    )


def body_items(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Yield the arguments and nested blocks of a block body, without parser markers."""
    for key, value in body.items():
        if not key.startswith("__"):
            yield key, value


@cache
def load_module(directory: Path) -> Module:
    """Parse every .tf file of a directory into a Module (cached: treat it as read-only)."""
    module = Module()
    for path in sorted(directory.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        for kind, entries in parsed.items():
            for entry in entries:
                _add_entry(module, kind, entry, path.name)
    return module


def _add_entry(module: Module, kind: str, entry: dict[str, Any], file: str) -> None:
    if kind == "locals":
        module.locals.update(dict(body_items(entry)))
        return
    for first_label, inner in body_items(entry):
        if kind in ("resource", "data"):
            for second_label, body in body_items(inner):
                block = Block(kind, unquote(first_label), unquote(second_label), body, file)
                target = module.resources if kind == "resource" else module.data
                target[(block.type, block.name)] = block
        elif kind in ("variable", "output"):
            block = Block(kind, "", unquote(first_label), inner, file)
            (module.variables if kind == "variable" else module.outputs)[block.name] = block
        else:
            module.other.append(Block(kind, "", unquote(first_label), inner if isinstance(inner, dict) else {}, file))


@lru_cache(maxsize=1)
def provider_schema() -> dict[str, Any]:
    """Load the hashicorp/aws provider schema (resource and data source schemas)."""
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return document["provider_schemas"][PROVIDER]


def block_schema(kind: str, type_name: str) -> dict[str, Any] | None:
    """Return the schema block of a resource or data source type, or None if unknown."""
    section = "resource_schemas" if kind == "resource" else "data_source_schemas"
    entry = provider_schema()[section].get(type_name)
    return entry["block"] if entry else None


def check_body(body: dict[str, Any], schema: dict[str, Any], where: str, top_level: bool) -> list[str]:
    """List every argument or nested block of a body that the schema does not allow."""
    problems: list[str] = []
    attributes = schema.get("attributes", {})
    block_types = schema.get("block_types", {})
    block_counts: dict[str, int] = {name: 0 for name in block_types}
    dynamic_blocks: set[str] = set()
    for key, value in body_items(body):
        if top_level and key in META_ARGUMENTS:
            continue
        if key == "dynamic":
            for dynamic in value:
                for label, dynamic_body in body_items(dynamic):
                    name = unquote(label)
                    dynamic_blocks.add(name)
                    if name not in block_types:
                        problems.append(f"{where}: unknown dynamic block {name!r}")
                        continue
                    for content in dynamic_body.get("content", []):
                        problems += check_body(content, block_types[name]["block"], f"{where}.{name}", False)
        elif key in attributes:
            problems += _check_attribute(key, value, attributes[key], where)
        elif key in block_types:
            if not is_block(value):
                problems.append(f"{where}: {key!r} is a block, not an argument")
                continue
            block_counts[key] += len(value)
            for nested in value:
                problems += check_body(nested, block_types[key]["block"], f"{where}.{key}", False)
        else:
            problems.append(f"{where}: unknown argument or block {key!r}")
    for name, spec in attributes.items():
        if spec.get("required") and name not in body:
            problems.append(f"{where}: missing required argument {name!r}")
    for name, spec in block_types.items():
        if name in dynamic_blocks:
            continue
        low, high = spec.get("min_items", 0), spec.get("max_items", 0)
        if spec["nesting_mode"] == "single":
            high = 1
        if block_counts[name] < low:
            problems.append(f"{where}: block {name!r} needs at least {low}, has {block_counts[name]}")
        if high and block_counts[name] > high:
            problems.append(f"{where}: block {name!r} allows at most {high}, has {block_counts[name]}")
    return problems


# Deprecated in 6.x in favour of a key_schema block that hashicorp/aws 5.100, the lowest version
# versions.tf admits, does not have (its binary holds no "key_schema"): kept until the floor moves.
DEPRECATED_BUT_NEEDED_BY_5_100 = {("global_secondary_index", "hash_key"), ("global_secondary_index", "range_key")}


def _check_attribute(key: str, value: Any, spec: dict[str, Any], where: str) -> list[str]:
    if is_block(value):
        return [f"{where}: {key!r} is an argument, not a block"]
    if not (spec.get("required") or spec.get("optional")):
        return [f"{where}: {key!r} is computed by the provider and cannot be set"]
    if spec.get("deprecated") and (where.rsplit(".", 1)[-1], key) not in DEPRECATED_BUT_NEEDED_BY_5_100:
        return [f"{where}: {key!r} is deprecated"]
    return []


def strings_in(value: Any) -> Iterator[str]:
    """Yield every string inside a parsed value, keys of maps included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("__"):
                yield key
                yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def exported_names(kind: str, type_name: str) -> set[str]:
    """Names a resource or data source exports: its attributes and nested blocks."""
    schema = block_schema(kind, type_name) or {}
    return set(schema.get("attributes", {})) | set(schema.get("block_types", {}))


def _is_deprecated(kind: str, type_name: str, attribute: str) -> bool:
    spec = (block_schema(kind, type_name) or {}).get("attributes", {}).get(attribute, {})
    return bool(spec.get("deprecated"))


def check_references(module: Module) -> list[str]:
    """List every var., local., data. and aws_ reference that does not resolve."""
    problems: list[str] = []
    blocks = [
        *module.resources.values(),
        *module.data.values(),
        *module.outputs.values(),
        *module.variables.values(),
        *module.other,
    ]
    sources = [(block.file + " " + block.address, block.body) for block in blocks]
    sources.append(("locals", module.locals))
    for where, body in sources:
        for text in strings_in(body):
            problems += _unresolved_in(text, module, where)
    return sorted(set(problems))


def _unresolved_in(text: str, module: Module, where: str) -> list[str]:
    problems = [
        f"{where}: undeclared variable var.{name}" for name in VAR_REF.findall(text) if name not in module.variables
    ]
    problems += [
        f"{where}: undeclared local local.{name}" for name in LOCAL_REF.findall(text) if name not in module.locals
    ]
    for kind, pattern, declared in (("data", DATA_REF, module.data), ("resource", RESOURCE_REF, module.resources)):
        for type_name, name, attribute in pattern.findall(text):
            prefix = "data." if kind == "data" else ""
            if (type_name, name) not in declared:
                problems.append(f"{where}: undeclared {prefix}{type_name}.{name}")
            elif attribute and attribute not in exported_names(kind, type_name):
                problems.append(f"{where}: {prefix}{type_name}.{name} exports no attribute {attribute!r}")
            elif attribute and _is_deprecated(kind, type_name, attribute):
                problems.append(f"{where}: {prefix}{type_name}.{name}.{attribute} is deprecated")
    return problems


def check_schema(module: Module) -> list[str]:
    """List every resource or data block that does not match the provider schema."""
    problems: list[str] = []
    for block in [*module.resources.values(), *module.data.values()]:
        where = f"{block.file} {block.address}"
        schema = block_schema(block.kind, block.type)
        if schema is None:
            problems.append(
                f"{where}: unknown {block.kind} type {block.type!r} (a new type? run tests/terraform/vendor_schema.py)"
            )
            continue
        problems += check_body(block.body, schema, where, top_level=True)
    return problems


def check_directory(directory: Path) -> list[str]:
    """Run the schema and reference checks on a directory; return all problems found."""
    module = load_module(directory)
    return check_schema(module) + check_references(module)
