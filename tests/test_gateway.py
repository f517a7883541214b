"""The emulator's API Gateway runs terraform/'s REST API: key, validator, template, integration, responses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from emulator.apigateway.gateway import MAX_PAYLOAD_BYTES
from emulator.patches.stepfunctions import MAX_EXECUTION_INPUT_BYTES
from harness.emulator import Emulator
from harness.orders import ORDER
from harness.stacks import Api, Stack, make_api, make_stack


@pytest.fixture
def main_stack(emulator: Emulator) -> Stack:
    return Stack(emulator, emulator.outputs["approval_queue_url"], emulator.outputs["state_machine_arn"])


@pytest.fixture(scope="module")
def own_api(emulator: Emulator) -> tuple[Api, Stack]:
    """A REST API of its own on a state machine of its own, so valid orders start nothing on the main one."""
    stack = make_stack(emulator)
    return make_api(emulator, stack.state_machine_arn), stack


def post(url: str, body: Any, key: str | None, **headers: str) -> requests.Response:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False).encode()
    sent = {"Content-Type": "application/json", **({"x-api-key": key} if key else {}), **headers}
    return requests.post(url, data=data, headers=sent, timeout=30)


def post_main(emulator: Emulator, body: Any, **headers: str) -> requests.Response:
    return post(emulator.outputs["api_url"], body, emulator.outputs["api_key"], **headers)


def executions_started(emulator: Emulator) -> int:
    sfn = emulator.client("stepfunctions")
    return len(sfn.list_executions(stateMachineArn=emulator.outputs["state_machine_arn"])["executions"])


def execution_name_of(extended_request_id: str) -> str:
    """The execution name the request template makes of an extended request id."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", extended_request_id)[:80]


def test_an_order_posted_with_the_api_key_can_be_approved(main_stack, controller_factory):
    controller = controller_factory(main_stack)

    started = post_main(main_stack.emulator, ORDER)

    assert started.status_code == 200, started.text
    name = started.json()["name"]
    assert started.json()["executionArn"].endswith(f":{name}")
    assert json.loads(main_stack.describe(name)["input"]) == ORDER
    controller.wait_for_pending(name)
    assert controller.post(f"/approve/{name}").status_code == 200
    assert main_stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_who_asked_passes_the_api_model_and_reaches_the_approver_and_an_empty_one_is_refused(
    own_api, controller_factory
):
    api, stack = own_api
    controller = controller_factory(stack)

    started = post(api.url, {**ORDER, "requested_by": "dave"}, api.key)
    empty = post(api.url, {**ORDER, "requested_by": ""}, api.key)

    assert started.status_code == 200, started.text
    assert controller.wait_for_pending(started.json()["name"])["order"]["requested_by"] == "dave"
    assert (empty.status_code, empty.json()) == (400, {"message": "Invalid request body"})


def test_the_execution_is_named_by_the_extended_request_id_whatever_request_id_the_caller_sends(own_api):
    api, stack = own_api
    chosen = "chosen-by-the-caller"
    headers = {"X-Amzn-RequestId": chosen, "X-Amz-Apigw-Id": chosen, "X-Amzn-Trace-Id": chosen, "X-Request-Id": chosen}

    started = post(api.url, ORDER, api.key, **headers)

    assert started.status_code == 200, started.text
    name = started.json()["name"]
    assert name == execution_name_of(started.headers["x-amz-apigw-id"]) and chosen not in name
    assert started.headers["x-amzn-RequestId"] != chosen
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    assert stack.describe(name)["status"] in ("RUNNING", "SUCCEEDED")


@pytest.mark.parametrize(
    "text",
    [
        'it\'s "quoted"',
        "back\\slash \\' \\\" \\\\n",
        "two\nlines\r\n\ttab \u0001 control",
        "Zoë 東京 🚀 \u2028",
        "</script><script>alert(1)</script>",
        "${state_machine_arn} $context.requestId #set($x = 1) ## not a comment",
    ],
)
def test_string_fields_reach_the_execution_unchanged_through_the_request_template(own_api, text):
    api, stack = own_api
    order = {**ORDER, "customer": {"id": "C-1", "name": text}, "items": [{**ORDER["items"][0], "sku": text[:64]}]}

    started = post(api.url, order, api.key)

    assert started.status_code == 200, started.text
    assert json.loads(stack.describe(started.json()["name"])["input"]) == order


@pytest.mark.parametrize("key", [None, "", "not-a-key-of-this-api"])
def test_a_call_without_the_api_key_or_with_a_wrong_one_gets_403_and_starts_nothing(emulator, key):
    before = executions_started(emulator)

    response = post(emulator.outputs["api_url"], ORDER, key)

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert executions_started(emulator) == before


@pytest.mark.parametrize("enabled, in_plan", [(False, True), (True, False)])
def test_a_disabled_key_or_a_key_outside_the_apis_usage_plan_gets_403(emulator, own_api, enabled, in_plan):
    api, _ = own_api
    apigateway = emulator.client("apigateway")
    key = apigateway.create_api_key(name=f"other-{enabled}-{in_plan}", enabled=enabled)
    if in_plan:
        plan = next(plan for plan in apigateway.get_usage_plans()["items"] if plan["apiStages"][0]["apiId"] in api.url)
        apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")

    response = post(api.url, ORDER, key["value"])

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**ORDER, "items": []},
        {**ORDER, "items": [{"sku": "A", "quantity": "2", "unit_price": 1}]},
        {**ORDER, "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:other"},
        [ORDER],
        "",
        "{not json",
        '{"order_id": NaN}',
    ],
)
def test_a_body_that_is_not_a_valid_order_gets_400_invalid_request_body_and_starts_nothing(emulator, body):
    before = executions_started(emulator)

    response = post_main(emulator, body)

    assert (response.status_code, response.json()) == (400, {"message": "Invalid request body"})
    assert executions_started(emulator) == before


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"])
def test_a_body_of_a_content_type_without_a_template_gets_415_and_starts_nothing(emulator, content_type):
    before = executions_started(emulator)

    response = post_main(emulator, json.dumps(ORDER), **{"Content-Type": content_type})

    assert (response.status_code, response.json()) == (415, {"message": "Unsupported Media Type"})
    assert executions_started(emulator) == before


def test_a_body_without_a_content_type_is_taken_as_json(own_api):
    api, _ = own_api

    response = requests.post(api.url, data=json.dumps(ORDER), headers={"x-api-key": api.key}, timeout=30)

    assert response.status_code == 200, response.text


def test_a_body_over_the_api_gateway_payload_limit_gets_413_and_starts_nothing(emulator):
    before = executions_started(emulator)

    response = post_main(emulator, b"x" * (MAX_PAYLOAD_BYTES + 1))

    assert (response.status_code, response.json()) == (413, {"message": "Request Too Long"})
    assert executions_started(emulator) == before


def test_step_functions_refuses_an_input_over_256_kib_as_aws_does(stack):
    # No valid order is that large (the schema bounds every field), so this is the emulator's own check.
    with pytest.raises(ClientError) as refused:
        stack.emulator.client("stepfunctions").start_execution(
            stateMachineArn=stack.state_machine_arn, input=json.dumps({"note": "x" * MAX_EXECUTION_INPUT_BYTES})
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_step_functions_4xx_maps_to_the_400_response_with_its_error(emulator):
    missing = emulator.outputs["state_machine_arn"] + "-that-does-not-exist"
    api = make_api(emulator, missing)

    response = post(api.url, ORDER, api.key)

    assert response.status_code == 400
    assert response.json()["__type"].endswith("StateMachineDoesNotExist")


@pytest.mark.parametrize(("method", "path"), [("POST", "/nothing/here"), ("GET", "/start/workflow")])
def test_a_path_or_method_the_api_does_not_have_gets_403_missing_authentication_token(emulator, method, path):
    url = emulator.outputs["api_url"].replace("/start/workflow", path)

    response = requests.request(method, url, headers={"x-api-key": emulator.outputs["api_key"]}, timeout=30)

    assert (response.status_code, response.json()) == (403, {"message": "Missing Authentication Token"})
