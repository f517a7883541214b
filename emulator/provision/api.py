"""Creates, in the emulator, the REST API terraform/api_gateway.tf describes, from the same files.

The model is lambda/order.schema.json and the mapping templates are terraform/templates/*.vtl,
filled the way Terraform's templatefile() fills them; tests/terraform checks that the
resources and settings below match the .tf file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack.definition import render_template, resource_name
from stack.paths import ORDER_SCHEMA_FILE, REQUEST_TEMPLATE_FILE, RESPONSE_TEMPLATE_FILE

MODEL_NAME = "Order"
VALIDATOR_NAME = "validate-body"
JSON = "application/json"
# Method response -> selection pattern against Step Functions' status code (None: the default, success).
RESPONSE_PATTERNS: dict[str, str | None] = {"200": None, "400": r"4\d{2}", "500": r"5\d{2}"}


@dataclass(frozen=True)
class ApiDeployment:
    """The deployed REST API: its id, stage and the API key that may call it."""

    api_id: str
    stage: str
    api_key: str

    def path_url(self, gateway_url: str, path: str) -> str:
        """The URL of a path of this API at the emulator's gateway, valid however many APIs it holds."""
        return f"{gateway_url}/restapis/{self.api_id}/{self.stage}/_user_request_{path}"


def _resources(apigateway: Any, api_id: str, path: str) -> str:
    """Create one resource per segment of the path; return the last one's id."""
    parent = next(item["id"] for item in apigateway.get_resources(restApiId=api_id)["items"] if item["path"] == "/")
    for part in path.strip("/").split("/"):
        parent = apigateway.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
    resource_id: str = parent
    return resource_id


def _method(apigateway: Any, method: dict[str, str]) -> None:
    """POST with an API key, and a validator that checks the body against the order schema."""
    api_id = method["restApiId"]
    apigateway.create_model(
        restApiId=api_id,
        name=MODEL_NAME,
        contentType=JSON,
        schema=ORDER_SCHEMA_FILE.read_text(),
        description="An order to be approved.",
    )
    validator = apigateway.create_request_validator(restApiId=api_id, name=VALIDATOR_NAME, validateRequestBody=True)
    apigateway.put_method(
        **method,
        authorizationType="NONE",
        apiKeyRequired=True,
        requestValidatorId=validator["id"],
        requestModels={JSON: MODEL_NAME},
    )


def _integration(apigateway: Any, method: dict[str, str], state_machine_arn: str, role_arn: str) -> None:
    """StartExecution of this state machine, with the request template filled as templatefile() fills it."""
    partition, region = state_machine_arn.split(":")[1], state_machine_arn.split(":")[3]
    template = render_template(REQUEST_TEMPLATE_FILE.read_text(), {"state_machine_arn": state_machine_arn})
    apigateway.put_integration(
        **method,
        type="AWS",
        integrationHttpMethod="POST",
        uri=f"arn:{partition}:apigateway:{region}:states:action/StartExecution",
        credentials=role_arn,
        passthroughBehavior="NEVER",
        requestTemplates={JSON: template},
    )


def _responses(apigateway: Any, method: dict[str, str]) -> None:
    """One method and integration response per status; success gets the response template."""
    for status, pattern in RESPONSE_PATTERNS.items():
        apigateway.put_method_response(**method, statusCode=status, responseModels={JSON: "Empty"})
        selection = {"selectionPattern": pattern} if pattern else {}
        templates = {JSON: RESPONSE_TEMPLATE_FILE.read_text()} if pattern is None else {}
        apigateway.put_integration_response(**method, statusCode=status, responseTemplates=templates, **selection)


def _api_key(apigateway: Any, api_id: str, stage: str, name: str, value: str | None) -> str:
    """Create an enabled key (of this value, else API Gateway's) and a usage plan of this API and stage
    holding it; return the key's value."""
    key = apigateway.create_api_key(name=f"{name}-key", enabled=True, **({"value": value} if value else {}))
    plan = apigateway.create_usage_plan(name=f"{name}-plan", apiStages=[{"apiId": api_id, "stage": stage}])
    apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return str(key["value"])


def provision_api(
    apigateway: Any,
    stack: dict[str, Any],
    prefix: str,
    state_machine_arn: str,
    role_arn: str,
    api_key: str | None = None,
) -> ApiDeployment:
    """Create the REST API of POST <api.path> that starts executions of this state machine as role_arn."""
    name = resource_name(stack, "api", prefix)
    api_id = apigateway.create_rest_api(
        name=name,
        description="Starts the human approval workflow for an order.",
        endpointConfiguration={"types": ["REGIONAL"]},
    )["id"]
    resource_id = _resources(apigateway, api_id, stack["api"]["path"])
    method = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": "POST"}
    _method(apigateway, method)
    _integration(apigateway, method, state_machine_arn, role_arn)
    _responses(apigateway, method)
    stage = stack["api"]["stage"]
    deployment = apigateway.create_deployment(restApiId=api_id)
    apigateway.create_stage(restApiId=api_id, stageName=stage, deploymentId=deployment["id"])
    return ApiDeployment(api_id, stage, _api_key(apigateway, api_id, stage, name, api_key))
