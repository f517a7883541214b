"""The single sources of truth: the state machine template, stack.json and the order schema, read offline."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft4Validator

from harness.orders import ORDER
from stack.definition import TemplateError, load_stack, render_template, template_placeholders
from stack.paths import ORDER_SCHEMA_FILE, TEMPLATE_FILE

VARIABLES = {
    "order_function_arn": "arn:aws:lambda:eu-west-1:1:function:f",
    "approval_queue_url": "https://q",
    "approval_timeout_seconds": 60,
    "partition": "aws",
}


def test_the_template_has_exactly_the_placeholders_rendering_fills():
    assert template_placeholders(TEMPLATE_FILE.read_text()) == set(VARIABLES)


def test_the_rendered_template_keeps_the_original_state_names_and_message_keys():
    definition = json.loads(render_template(TEMPLATE_FILE.read_text(), VARIABLES))

    assert {"Process Order", "Request Approval", "Success", "Failure"} <= set(definition["States"])
    body = definition["States"]["Request Approval"]["Parameters"]["MessageBody"]
    assert body["MessageTitle"] == "Processing Order, approve / reject to proceed."
    assert body["TaskToken.$"] == "$$.Task.Token"
    assert definition["States"]["Request Approval"]["TimeoutSeconds"] == 60


def test_rendering_follows_terraform_escapes_and_refuses_missing_values():
    assert render_template("$${literal} ${a}", {"a": 1}) == "${literal} 1"
    with pytest.raises(TemplateError, match="needs a value for 'b'"):
        render_template("${b}", {})


def test_fail_state_errors_never_use_the_reserved_states_prefix():
    definition = json.loads(render_template(TEMPLATE_FILE.read_text(), VARIABLES))

    errors = [state.get("Error", "") for state in definition["States"].values() if state["Type"] == "Fail"]
    assert errors and not [error for error in errors if error.startswith("States.")]


def test_the_order_schema_is_valid_draft_4_and_documents_the_example_order():
    schema = json.loads(ORDER_SCHEMA_FILE.read_text())
    Draft4Validator.check_schema(schema)
    assert Draft4Validator(schema).is_valid(ORDER)


def test_an_approval_request_outlives_its_timeout_on_the_queue():
    stack = load_stack()

    assert stack["approval_timeout_seconds"] <= stack["approval_queue"]["message_retention_seconds"]
    assert (
        stack["approval_queue"]["message_retention_seconds"] <= stack["dead_letter_queue"]["message_retention_seconds"]
    )
