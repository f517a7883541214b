"""The emulator deploys what stack.json, the state machine template and terraform/ describe, from the same files."""

from __future__ import annotations

import json

from emulator.provision.api import MODEL_NAME, RESPONSE_PATTERNS
from stack.definition import load_stack, render_template
from stack.paths import ORDER_SCHEMA_FILE, REQUEST_TEMPLATE_FILE, RESPONSE_TEMPLATE_FILE


def test_the_emulator_fills_the_templates_placeholders_from_stack_json_and_its_outputs(emulator):
    definition = json.loads(
        emulator.client("stepfunctions").describe_state_machine(stateMachineArn=emulator.outputs["state_machine_arn"])[
            "definition"
        ]
    )

    assert definition["States"]["Request Approval"]["TimeoutSeconds"] == load_stack()["approval_timeout_seconds"]
    assert definition["States"]["Process Order"]["Parameters"]["FunctionName"] == emulator.outputs["order_function_arn"]


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
