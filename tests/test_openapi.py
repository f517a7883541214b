"""openapi.yaml against the running apps: no request generated from it gets a 5xx or an undescribed answer.

Schemathesis sends what the description allows (positive) and what it forbids (negative) to a
controller over real HTTP and to /start/workflow at the emulator's API Gateway. Valid orders start
executions, so the REST API fuzzed here starts them on a state machine of its own, not on the main one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from harness import peek
from harness.controllers import ServedController, controller_config
from harness.emulator import Emulator
from harness.stacks import Api, Stack, make_api, make_stack
from stack.paths import OPENAPI_FILE

# the plugin that turns SCHEMA.parametrize() into tests; pyproject.toml keeps it from loading for every run
pytest_plugins = ["schemathesis.pytest.plugin"]
SPEC_FILE = OPENAPI_FILE
SCHEMA = schemathesis.openapi.from_path(SPEC_FILE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
FUZZ = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzzed_controller(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedController, str]]:
    """A controller with one pending request (the first valid /approve or /reject decides it), and its task token."""
    stack = make_stack(emulator)
    controller = ServedController(
        controller_config(stack.emulator, stack.queue_url, tmp_path_factory.mktemp("openapi") / "approvals.sqlite3")
    )
    controller.wait_for_pending(stack.start())
    (token,) = peek.task_tokens(controller.app.config["DATABASE"])
    yield controller, token
    controller.stop()


@pytest.fixture(scope="module")
def fuzzed_api(emulator: Emulator) -> Api:
    """The stack's REST API at the emulator's API Gateway, starting executions on a state machine of its own."""
    return make_api(emulator, make_stack(emulator).state_machine_arn)


@SCHEMA.exclude(path="/start/workflow").parametrize()
@FUZZ
def test_no_request_to_the_controller_gets_a_server_error_or_an_undescribed_answer(
    case: schemathesis.Case, fuzzed_controller: tuple[ServedController, str]
) -> None:
    controller, token = fuzzed_controller

    response = case.call_and_validate(base_url=controller.url, checks=CHECKS)

    assert token not in response.text


@SCHEMA.include(path="/start/workflow").parametrize()
@FUZZ
def test_no_request_to_start_workflow_gets_a_server_error_or_an_undescribed_answer(
    case: schemathesis.Case, fuzzed_api: Api
) -> None:
    base_url = fuzzed_api.url.removesuffix("/start/workflow")

    case.call_and_validate(base_url=base_url, headers={"x-api-key": fuzzed_api.key}, checks=CHECKS)


def conforms(response: requests.Response, method: str, path: str, **path_parameters: str) -> requests.Response:
    """Assert the response has a status, content type and body that openapi.yaml describes for the operation."""
    case = SCHEMA[path][method].Case(path_parameters=path_parameters or None)
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )
    return response


def test_every_answer_in_a_requests_life_is_described(
    stack: Stack, controller_factory: Callable[..., ServedController]
) -> None:
    controller = controller_factory(stack, LIVENESS_CHECK_SECONDS=0)
    approved, rejected, gone = stack.start(), stack.start(), stack.start()
    controller.wait_for_pending(gone)
    aws_down = controller_factory(stack, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS=1)

    statuses = [
        conforms(controller.get("/pending?limit=2"), "GET", "/pending").status_code,
        conforms(controller.post("/approve"), "POST", "/approve").status_code,
        conforms(
            requests.post(
                f"{controller.url}/approve/{approved}", headers={"Origin": "https://elsewhere.example"}, timeout=30
            ),
            "POST",
            "/approve/{id}",
            id=approved,
        ).status_code,
        conforms(aws_down.post(f"/approve/{approved}"), "POST", "/approve/{id}", id=approved).status_code,
        conforms(
            controller.post(f"/approve/{approved}", {"approver": "Zoë"}), "POST", "/approve/{id}", id=approved
        ).status_code,
        conforms(controller.post(f"/approve/{approved}"), "POST", "/approve/{id}", id=approved).status_code,
        conforms(
            controller.post(f"/reject/{rejected}", {"reason": "No."}), "POST", "/reject/{id}", id=rejected
        ).status_code,
        conforms(controller.get(f"/approvals/{approved}"), "GET", "/approvals/{id}", id=approved).status_code,
        conforms(controller.post("/reject/nobody"), "POST", "/reject/{id}", id="nobody").status_code,
    ]
    stack.emulator.client("stepfunctions").delete_state_machine(stateMachineArn=stack.state_machine_arn)
    controller.get("/pending")  # notices the execution is gone
    statuses += [
        conforms(controller.post(f"/reject/{gone}"), "POST", "/reject/{id}", id=gone).status_code,
        conforms(controller.get(f"/approvals/{gone}"), "GET", "/approvals/{id}", id=gone).status_code,
        conforms(controller.post("/reject"), "POST", "/reject").status_code,
    ]

    assert statuses == [200, 409, 403, 503, 200, 409, 200, 200, 404, 410, 200, 404]
