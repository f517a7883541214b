"""Every name terraform/ derives from name_prefix fits its service's length limit, for every prefix admitted."""

import json
import re

from hcl_checks import REPO_ROOT, TERRAFORM_DIR, load_module, unquote

STACK = json.loads((REPO_ROOT / "stack.json").read_text(encoding="utf-8"))
NAME_ARGUMENTS = ("name", "function_name")
REST_API_ID_LENGTH = 10  # API Gateway REST API ids are ten characters, e.g. a1b2c3d4e5

# Longest name each service accepts (each service's API reference, CreateX: Name).
LIMITS = {
    "aws_iam_role": 64,
    "aws_iam_policy": 128,
    "aws_iam_role_policy": 128,
    "aws_sqs_queue": 80,
    "aws_sfn_state_machine": 80,
    "aws_lambda_function": 64,
    "aws_cloudwatch_log_group": 512,
    "aws_api_gateway_api_key": 1024,
    "aws_dynamodb_table": 255,
    "aws_kms_alias": 256,
}
# Names API Gateway keeps as labels without a length limit a prefix could come near, or fixed names.
NOT_LIMITED = {
    "aws_api_gateway_rest_api",
    "aws_api_gateway_usage_plan",
    "aws_api_gateway_model",
    "aws_api_gateway_request_validator",
}


def longest_admitted_prefix() -> int:
    """The longest name_prefix the variable's validation admits, read from its regex."""
    (validation,) = load_module(TERRAFORM_DIR).variables["name_prefix"].body["validation"]
    bound = re.search(r"\^\[a-z\]\[a-z0-9-\]\{0,(\d+)\}\$", validation["condition"])
    assert bound, f"unexpected name_prefix validation: {validation['condition']}"
    return 1 + int(bound[1])


def expand(expression: str, prefix: str) -> str:
    """Return the name an expression of terraform/ gives for this prefix; fail on any unknown part."""
    names = load_module(TERRAFORM_DIR).locals["names"]
    text = re.sub(r"\$\{local\.names\.(\w+)\}", lambda match: unquote(names[match[1]]), unquote(expression))
    text = text.replace("${var.name_prefix}", prefix)
    text = re.sub(r"\$\{local\.stack\.names\.(\w+)\}", lambda match: STACK["names"][match[1]], text)
    text = text.replace("${local.stack.api.stage}", STACK["api"]["stage"])
    text = text.replace("${aws_api_gateway_rest_api.this.id}", "a" * REST_API_ID_LENGTH)
    assert "${" not in text, f"cannot expand {expression!r}: {text!r}"
    return text


def derived_names(prefix: str) -> list[tuple[str, str, str]]:
    """(resource address, resource type, name) for every named resource of terraform/."""
    return [
        (f"{block.type}.{block.name}", block.type, expand(block.body[argument], prefix))
        for block in load_module(TERRAFORM_DIR).resources.values()
        for argument in NAME_ARGUMENTS
        if argument in block.body
    ]


def too_long(prefix: str) -> list[str]:
    return [
        f"{address}: {len(name)} > {LIMITS[type_name]} ({name})"
        for address, type_name, name in derived_names(prefix)
        if type_name in LIMITS and len(name) > LIMITS[type_name]
    ]


def test_every_named_resource_type_has_a_known_length_limit() -> None:
    unknown = {type_name for _, type_name, _ in derived_names("p")} - set(LIMITS) - NOT_LIMITED
    assert not unknown, f"add the service's name length limit for {sorted(unknown)}"


def test_every_derived_name_fits_with_the_longest_prefix_the_validation_admits() -> None:
    problems = too_long("p" * longest_admitted_prefix())
    assert not problems, "\n".join(problems)


def test_the_validation_admits_every_prefix_whose_names_all_fit() -> None:
    assert too_long("p" * (longest_admitted_prefix() + 1)), "the name_prefix validation is stricter than needed"
