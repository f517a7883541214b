"""The README's path: POST /start/workflow on the emulator's API stand-in, then the controller."""

from __future__ import annotations

import json

import pytest
import requests

from harness.orders import ORDER
from harness.stacks import Stack


@pytest.fixture
def main_stack(emulator) -> Stack:
    return Stack(emulator, emulator.outputs["approval_queue_url"], emulator.outputs["state_machine_arn"])


def executions_started(emulator) -> int:
    sfn = emulator.client("stepfunctions")
    return len(sfn.list_executions(stateMachineArn=emulator.outputs["state_machine_arn"])["executions"])


def test_an_order_posted_to_start_workflow_can_be_approved(main_stack, controller_factory):
    controller = controller_factory(main_stack)

    started = requests.post(main_stack.emulator.outputs["api_url"], json=ORDER, timeout=10)

    assert started.status_code == 200, started.text
    name = started.json()["name"]
    assert started.json()["executionArn"].endswith(f":{name}")
    assert json.loads(main_stack.describe(name)["input"]) == ORDER
    controller.wait_for_pending(name)
    assert controller.post(f"/approve/{name}").status_code == 200
    assert main_stack.wait_until_finished(name)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "'order_id' is a required property"),
        ({**ORDER, "items": []}, "items: [] should be non-empty"),
        (
            {**ORDER, "items": [{"sku": "A", "quantity": "2", "unit_price": 1}]},
            "items/0/quantity: '2' is not of type 'integer'",
        ),
        (
            {**ORDER, "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:other"},
            "'stateMachineArn' was unexpected",
        ),
        ([ORDER], "is not of type 'object'"),
    ],
)
def test_an_invalid_order_gets_400_with_the_reason_and_starts_nothing(emulator, body, reason):
    before = executions_started(emulator)

    response = requests.post(emulator.outputs["api_url"], json=body, timeout=10)

    assert response.status_code == 400
    assert any(reason in error for error in response.json()["errors"]), response.json()
    assert executions_started(emulator) == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("", "application/json"), ("{not json", "application/json"), ("order_id=1", "application/x-www-form-urlencoded")],
)
def test_a_body_that_is_not_json_gets_400_and_starts_nothing(emulator, data, content_type):
    before = executions_started(emulator)

    response = requests.post(emulator.outputs["api_url"], data=data, headers={"Content-Type": content_type}, timeout=10)

    assert response.status_code == 400
    assert "JSON order" in response.json()["message"]
    assert executions_started(emulator) == before


def test_a_body_over_the_step_functions_input_limit_gets_413(emulator):
    before = executions_started(emulator)

    response = requests.post(emulator.outputs["api_url"], json={**ORDER, "note": "x" * 300_000}, timeout=10)

    assert response.status_code == 413
    assert executions_started(emulator) == before
