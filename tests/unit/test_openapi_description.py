"""openapi.yaml, read offline: a valid OpenAPI 3 description of every route, with the Lambda's order schema."""

from __future__ import annotations

import json
from typing import Any

import yaml
from flask import Flask
from openapi_spec_validator import validate

from stack.paths import OPENAPI_FILE, ORDER_SCHEMA_FILE


def spec() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI_FILE.read_text())


def test_openapi_yaml_is_a_valid_openapi_3_description() -> None:
    validate(spec())  # raises with the path of the first problem


def test_the_openapi_order_schema_is_lambda_order_schema_json() -> None:
    order_schema = json.loads(ORDER_SCHEMA_FILE.read_text())
    expected = {key: value for key, value in order_schema.items() if key not in ("$schema", "title")}

    assert spec()["components"]["schemas"]["Order"] == expected


def test_the_openapi_description_lists_every_route_of_the_controllers_api(app: Flask) -> None:
    served = {
        (method, rule.rule.replace("<any(approve, reject):action>", action).replace("<request_id>", "{id}"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("approvals.", "audit.")) or rule.endpoint == "signin.health"
        for method in rule.methods - {"HEAD", "OPTIONS"}
        for action in ("approve", "reject")
    }
    described = {
        (method.upper(), path) for path, item in spec()["paths"].items() for method in item if method != "servers"
    }

    assert described - {("POST", "/start/workflow")} == served
