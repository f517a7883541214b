"""Order processing: validate an order against order.schema.json, then price it.

Standard library only, so the deployment package is this file and the schema. The schema is
checked here as well as at the API: executions can be started without the API, and an order
that reaches the approver must be one the page can show. A property test keeps this small
draft-4 validator in agreement with jsonschema's.

Each order gives one log line. The function's log format is JSON (terraform/lambda.tf), and
Lambda's Python runtime then writes a record's `extra` fields as keys of that line.
"""

from __future__ import annotations

import json
import logging
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

LOG = logging.getLogger("order")
SCHEMA = json.loads((Path(__file__).parent / "order.schema.json").read_text())
MAX_ORDER_TOTAL = Decimal("1000000")
DEFAULT_CURRENCY = "EUR"
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


class InvalidOrder(Exception):
    """The order does not match the documented shape or breaks a business rule."""


def schema_errors(value: Any, schema: dict[str, Any], path: str = "order") -> list[str]:
    """Return what is wrong with value under the draft-4 subset order.schema.json uses."""
    expected = schema.get("type")
    if expected and (
        not isinstance(value, _JSON_TYPES[expected]) or (isinstance(value, bool) and expected != "boolean")
    ):
        return [f"{path} must be of type {expected}"]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path} must be a finite number"]  # NaN and Infinity are not JSON, but a direct start may carry them
    if isinstance(value, dict):
        return _object_errors(value, schema, path)
    if isinstance(value, list):
        return _array_errors(value, schema, path)
    return _scalar_errors(value, schema, path)


def _object_errors(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = [f"{path}.{key} is required" for key in schema.get("required", []) if key not in value]
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key in properties:
            errors += schema_errors(item, properties[key], f"{path}.{key}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}.{key} is not an allowed field")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{path} needs at least {schema['minItems']} entries")
    if len(value) > schema.get("maxItems", len(value)):
        errors.append(f"{path} allows at most {schema['maxItems']} entries")
    for index, item in enumerate(value):
        errors += schema_errors(item, schema.get("items", {}), f"{path}[{index}]")
    return errors


def _scalar_errors(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            errors.append(f"{path} has a length outside the allowed range")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path} does not match the pattern {schema['pattern']}")
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not schema.get("minimum", value) <= value <= schema.get("maximum", value)
    ):
        errors.append(f"{path} is outside the allowed range")
    return errors


def price(order: dict[str, Any]) -> dict[str, Any]:
    """Return the order with line totals, a grand total and a status; raise InvalidOrder on a broken rule."""
    skus = [item["sku"] for item in order["items"]]
    repeated = sorted({sku for sku in skus if skus.count(sku) > 1})
    if repeated:
        raise InvalidOrder(f"Order {order['order_id']} lists SKU {', '.join(repeated)} more than once.")
    cents = Decimal("0.01")
    lines = [
        {
            **item,
            "line_total": float((Decimal(str(item["unit_price"])) * item["quantity"]).quantize(cents, ROUND_HALF_UP)),
        }
        for item in order["items"]
    ]
    total = sum((Decimal(str(line["line_total"])) for line in lines), Decimal("0"))
    if total > MAX_ORDER_TOTAL:
        raise InvalidOrder(f"Order {order['order_id']} totals {total}, above the limit of {MAX_ORDER_TOTAL}.")
    return {
        **order,
        "items": lines,
        "currency": order.get("currency", DEFAULT_CURRENCY),
        "total": float(total),
        "status": "PROCESSED",
    }


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Validate and price one order, logging one structured line; the state machine catches InvalidOrder."""
    order_id = event.get("order_id") if isinstance(event, dict) else None
    try:
        errors = schema_errors(event, SCHEMA)
        if errors:
            raise InvalidOrder("The order is invalid: " + "; ".join(errors) + ".")
        processed = price(event)
    except InvalidOrder as refusal:
        LOG.warning("order refused", extra={"order_id": order_id, "outcome": "invalid", "reason": str(refusal)})
        raise
    LOG.info(
        "order processed",
        extra={
            "order_id": order_id,
            "outcome": "processed",
            "items": len(processed["items"]),
            "total": processed["total"],
            "currency": processed["currency"],
        },
    )
    return processed
