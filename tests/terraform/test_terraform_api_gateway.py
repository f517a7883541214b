"""The API Gateway parts of terraform/ that only AWS would otherwise reveal: logging role, templates, ordering."""

import re

from hcl_checks import REPO_ROOT, TERRAFORM_DIR, load_module, unquote

from emulator.provision.api import MODEL_NAME, RESPONSE_PATTERNS, VALIDATOR_NAME
from stack.definition import template_placeholders

TEMPLATES = TERRAFORM_DIR / "templates"
MANAGED_LOGGING_POLICY = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def resource(type_name: str, label: str) -> dict:
    return load_module(TERRAFORM_DIR).resources[(type_name, label)].body


def test_the_account_logging_role_may_write_every_api_gateway_log_group() -> None:
    # API Gateway checks the role by writing /aws/apigateway/welcome, which no stack-scoped policy covers.
    attachment = resource("aws_iam_role_policy_attachment", "api_gateway_cloudwatch")
    assert unquote(attachment["policy_arn"]) == MANAGED_LOGGING_POLICY
    assert unquote(attachment["role"]) == "${aws_iam_role.api_gateway_cloudwatch[0].name}"
    account = resource("aws_api_gateway_account", "this")
    assert account["depends_on"] == ["${aws_iam_role_policy_attachment.api_gateway_cloudwatch}"]


def test_the_deployment_waits_for_the_integration_roles_policy() -> None:
    deployment = resource("aws_api_gateway_deployment", "this")
    assert "${aws_iam_role_policy.api_gateway_integration}" in deployment["depends_on"]


def test_the_request_template_is_the_shared_file_filled_with_the_state_machine_arn() -> None:
    templates = resource("aws_api_gateway_integration", "start_workflow")["request_templates"]
    assert templates['"application/json"'] == (
        '${templatefile("${path.module}/templates/start_execution.request.vtl", '
        "{state_machine_arn = aws_sfn_state_machine.this.arn})}"
    )


def test_the_templates_use_exactly_the_placeholders_terraform_fills() -> None:
    # A stray ${...} would be a Terraform interpolation, not Velocity; file() fills none.
    assert template_placeholders((TEMPLATES / "start_execution.request.vtl").read_text()) == {"state_machine_arn"}
    assert "${" not in (TEMPLATES / "start_execution.response.vtl").read_text()


def test_the_success_response_template_is_the_shared_file() -> None:
    response = resource("aws_api_gateway_integration_response", "start_workflow")
    assert 'file("${path.module}/templates/start_execution.response.vtl")' in response["response_templates"]


def test_the_execution_name_is_the_extended_request_id_in_characters_execution_names_allow() -> None:
    template = (TEMPLATES / "start_execution.request.vtl").read_text(encoding="utf-8")
    (mapping,) = re.findall(r'\$context\.extendedRequestId\.replaceAll\("(.*?)", "(.*?)"\)', template)
    kept, replacement = mapping
    assert kept == "[^A-Za-z0-9_-]" and replacement == "-"
    code = "\n".join(line for line in template.splitlines() if not line.startswith("##"))
    assert "$context.requestId" not in code, "a caller can choose $context.requestId with a header"
    assert "$name.length() > 80" in template


def test_the_access_log_records_the_id_that_names_the_execution() -> None:
    (settings,) = resource("aws_api_gateway_stage", "this")["access_log_settings"]
    assert '"$context.extendedRequestId"' in settings["format"]


def test_the_state_machine_template_takes_the_partition_from_terraform() -> None:
    template = (REPO_ROOT / "state_machine_definition.json.tpl").read_text(encoding="utf-8")
    assert "arn:aws:" not in template
    assert "arn:${partition}:states:::lambda:invoke" in template
    assert "partition = local.partition" in resource("aws_sfn_state_machine", "this")["definition"]


def hcl_string(value: str) -> str:
    """The value of an HCL string literal: unquoted, its backslash escapes read."""
    return unquote(value).encode().decode("unicode_escape")


def test_the_emulator_provisions_the_same_method_validator_model_and_response_patterns() -> None:
    module = load_module(TERRAFORM_DIR)
    patterns = {unquote(status): pattern for status, pattern in module.locals["api_response_patterns"].items()}
    method = resource("aws_api_gateway_method", "start_workflow")
    integration = resource("aws_api_gateway_integration", "start_workflow")

    assert {status: pattern and hcl_string(pattern) for status, pattern in patterns.items()} == RESPONSE_PATTERNS
    assert unquote(resource("aws_api_gateway_model", "order")["name"]) == MODEL_NAME
    assert unquote(resource("aws_api_gateway_request_validator", "this")["name"]) == VALIDATOR_NAME
    assert method["api_key_required"] is True and unquote(method["authorization"]) == "NONE"
    assert (unquote(integration["type"]), unquote(integration["passthrough_behavior"])) == ("AWS", "NEVER")
