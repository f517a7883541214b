"""What a deployed stack is, read back through AWS API calls, with what must differ between two
deployments (ids, keys, dates) left out: so that two ways of deploying can be compared."""

from __future__ import annotations

import json
from typing import Any

from harness.emulator import Emulator

QUEUE_SETTINGS = ("VisibilityTimeout", "MessageRetentionPeriod", "SqsManagedSseEnabled", "Policy")
FUNCTION_SETTINGS = ("FunctionName", "Runtime", "Handler", "Timeout", "MemorySize")


def _name(arn_or_url: str) -> str:
    return arn_or_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _queue(sqs: Any, url: str) -> dict[str, Any]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    described: dict[str, Any] = {key: attributes.get(key) for key in QUEUE_SETTINGS if key != "Policy"}
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    described["RedrivePolicy"] = {
        "deadLetterTarget": _name(redrive.get("deadLetterTargetArn", "")),
        "maxReceiveCount": int(redrive.get("maxReceiveCount", 0)),
    }
    return {"name": _name(url), **described}


def _function(lambda_client: Any, arn: str) -> dict[str, Any]:
    configuration = lambda_client.get_function_configuration(FunctionName=arn)
    return {key: configuration.get(key) for key in FUNCTION_SETTINGS} | {"Role": _name(configuration["Role"])}


def _state_machine(sfn: Any, arn: str, endpoint_url: str) -> dict[str, Any]:
    described = sfn.describe_state_machine(stateMachineArn=arn)
    definition = described["definition"].replace(endpoint_url, "<emulator>")  # queue URLs name the emulator's port
    return {"name": described["name"], "role": _name(described["roleArn"]), "definition": json.loads(definition)}


def _method(apigateway: Any, api_id: str, resource: dict[str, Any], http_method: str) -> dict[str, Any]:
    method = apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method)
    integration = method.get("methodIntegration", {})
    validator = apigateway.get_request_validator(restApiId=api_id, requestValidatorId=method["requestValidatorId"])
    return {
        "authorizationType": method.get("authorizationType"),
        "apiKeyRequired": method.get("apiKeyRequired"),
        "requestModels": method.get("requestModels"),
        "validator": {key: validator.get(key) for key in ("name", "validateRequestBody", "validateRequestParameters")},
        "methodResponses": sorted(method.get("methodResponses", {})),
        "integration": {
            "type": integration.get("type"),
            "httpMethod": integration.get("httpMethod"),
            "uri": integration.get("uri"),
            "credentials": _name(integration.get("credentials", "")),
            "passthroughBehavior": integration.get("passthroughBehavior"),
            "requestTemplates": integration.get("requestTemplates"),
            "responses": {
                status: {
                    "selectionPattern": answer.get("selectionPattern"),
                    "templates": answer.get("responseTemplates"),
                }
                for status, answer in integration.get("integrationResponses", {}).items()
            },
        },
    }


def _rest_api(apigateway: Any, name: str) -> dict[str, Any]:
    (api,) = [item for item in apigateway.get_rest_apis()["items"] if item["name"] == name]
    resources = apigateway.get_resources(restApiId=api["id"])["items"]
    models = apigateway.get_models(restApiId=api["id"])["items"]
    plans = apigateway.get_usage_plans()["items"]
    return {
        "name": name,
        "methods": {
            f"{http_method} {resource['path']}": _method(apigateway, api["id"], resource, http_method)
            for resource in resources
            for http_method in resource.get("resourceMethods", {})
        },
        "models": {model["name"]: json.loads(model["schema"]) for model in models if model["name"] == "Order"},
        "stages": sorted(stage["stageName"] for stage in apigateway.get_stages(restApiId=api["id"])["item"]),
        "usage plans": [
            {
                "stages": [stage["stage"] for stage in plan.get("apiStages", []) if stage["apiId"] == api["id"]],
                "keys": [key["type"] for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]],
            }
            for plan in plans
            if any(stage["apiId"] == api["id"] for stage in plan.get("apiStages", []))
        ],
    }


def _table(dynamodb: Any, kms: Any, name: str) -> dict[str, Any]:
    table = dynamodb.describe_table(TableName=name)["Table"]
    sse = table.get("SSEDescription", {})
    key = kms.describe_key(KeyId=sse["KMSMasterKeyArn"])["KeyMetadata"] if "KMSMasterKeyArn" in sse else {}
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    return {
        "name": name,
        "billing": table.get("BillingModeSummary", {}).get("BillingMode"),
        "keys": table["KeySchema"],
        "attributes": sorted(table["AttributeDefinitions"], key=lambda attribute: attribute["AttributeName"]),
        "indexes": sorted(
            (index["IndexName"], index["KeySchema"], index["Projection"])
            for index in table.get("GlobalSecondaryIndexes", [])
        ),
        "deletion protection": table.get("DeletionProtectionEnabled"),
        "ttl": dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
        "point-in-time recovery": backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
        "encryption": (sse.get("Status"), sse.get("SSEType"), key.get("KeyManager"), key.get("Description")),
        "key rotation": key and kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"],
        "tags": dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", []),
    }


def deployed_stack(emulator: Emulator, outputs: dict[str, Any], api_name: str) -> dict[str, Any]:
    """Return the stack behind these outputs as AWS describes it."""
    return {
        "approval queue": _queue(emulator.client("sqs"), outputs["approval_queue_url"]),
        "dead-letter queue": _queue(emulator.client("sqs"), outputs["dead_letter_queue_url"]),
        "function": _function(emulator.client("lambda"), outputs["order_function_arn"]),
        "state machine": _state_machine(
            emulator.client("stepfunctions"), outputs["state_machine_arn"], emulator.outputs["aws_endpoint_url"]
        ),
        "rest api": _rest_api(emulator.client("apigateway"), api_name),
        "approvals table": _table(emulator.client("dynamodb"), emulator.client("kms"), outputs["approvals_table_name"]),
    }
