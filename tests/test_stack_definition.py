"""The single sources of truth: the state machine template, stack.json and the order schema."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft4Validator

from emulator.provision.api import MODEL_NAME, RESPONSE_PATTERNS
from harness.orders import ORDER
from stack.definition import TemplateError, load_stack, render_template, template_placeholders
from stack.paths import ORDER_SCHEMA_FILE, REQUEST_TEMPLATE_FILE, RESPONSE_TEMPLATE_FILE, TEMPLATE_FILE

VARIABLES = {
    "order_function_arn": "arn:aws:lambda:eu-west-1:1:function:f",
    "approval_queue_url": "https://q",
    "approval_timeout_seconds": 60,
    "partition": "aws",
}


def test_the_template_has_exactly_the_placeholders_the_emulator_passes(emulator):
    definition = json.loads(
        emulator.client("stepfunctions").describe_state_machine(stateMachineArn=emulator.outputs["state_machine_arn"])[
            "definition"
        ]
    )

    assert template_placeholders(TEMPLATE_FILE.read_text()) == set(VARIABLES)
    assert definition["States"]["Request Approval"]["TimeoutSeconds"] == load_stack()["approval_timeout_seconds"]
    assert definition["States"]["Process Order"]["Parameters"]["FunctionName"] == emulator.outputs["order_function_arn"]


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


def test_the_emulator_deploys_stack_json_settings(emulator):
    stack = load_stack()
    sqs, lambda_ = emulator.client("sqs"), emulator.client("lambda")
    queue = sqs.get_queue_attributes(QueueUrl=emulator.outputs["approval_queue_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    function = lambda_.get_function_configuration(FunctionName=emulator.outputs["order_function_arn"])

    assert emulator.outputs["approval_queue_url"].endswith(
        f"/{stack['name_prefix']}-{stack['names']['approval_queue']}"
    )
    assert int(queue["VisibilityTimeout"]) == stack["approval_queue"]["visibility_timeout_seconds"]
    assert int(queue["MessageRetentionPeriod"]) == stack["approval_queue"]["message_retention_seconds"]
    assert json.loads(queue["RedrivePolicy"])["maxReceiveCount"] == stack["approval_queue"]["max_receive_count"]
    assert json.loads(queue["RedrivePolicy"])["deadLetterTargetArn"].endswith(stack["names"]["dead_letter_queue"])
    expected = stack["order_function"]
    assert (function["Handler"], function["Runtime"], function["Timeout"], function["MemorySize"]) == (
        expected["handler"],
        expected["runtime"],
        expected["timeout_seconds"],
        expected["memory_mb"],
    )
    assert emulator.outputs["api_url"].endswith(stack["api"]["path"])


def test_an_approval_request_outlives_its_timeout_on_the_queue():
    stack = load_stack()

    assert stack["approval_timeout_seconds"] <= stack["approval_queue"]["message_retention_seconds"]
    assert (
        stack["approval_queue"]["message_retention_seconds"] <= stack["dead_letter_queue"]["message_retention_seconds"]
    )


def test_the_emulator_deploys_the_rest_api_terraform_describes_from_the_same_files(emulator):
    apigateway, stack = emulator.client("apigateway"), load_stack()
    api_id = emulator.outputs["api_url"].split("/restapis/")[1].split("/")[0]
    resource = next(r for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == stack["api"]["path"])
    method = apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod="POST")
    integration = method["methodIntegration"]
    validator = apigateway.get_request_validator(restApiId=api_id, requestValidatorId=method["requestValidatorId"])
    model = apigateway.get_model(restApiId=api_id, modelName=method["requestModels"]["application/json"])
    (plan,) = [p for p in apigateway.get_usage_plans()["items"] if p["apiStages"][0]["apiId"] == api_id]

    assert method["apiKeyRequired"] is True and validator["validateRequestBody"] is True
    assert model["name"] == MODEL_NAME and json.loads(model["schema"]) == json.loads(ORDER_SCHEMA_FILE.read_text())
    assert (integration["type"], integration["passthroughBehavior"]) == ("AWS", "NEVER")
    assert integration["uri"].endswith(":states:action/StartExecution")
    arn = emulator.outputs["state_machine_arn"]
    assert integration["requestTemplates"] == {
        "application/json": render_template(REQUEST_TEMPLATE_FILE.read_text(), {"state_machine_arn": arn})
    }
    responses = integration["integrationResponses"]
    assert {status: response.get("selectionPattern") for status, response in responses.items()} == RESPONSE_PATTERNS
    assert responses["200"]["responseTemplates"] == {"application/json": RESPONSE_TEMPLATE_FILE.read_text()}
    assert plan["apiStages"] == [{"apiId": api_id, "stage": stack["api"]["stage"]}]
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert [key["value"] for key in keys] == [emulator.outputs["api_key"]]
