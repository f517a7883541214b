"""terraform/ takes its names and settings from stack.json instead of repeating them."""

import json
import re
from typing import Any

import pytest
from hcl_checks import REPO_ROOT, TERRAFORM_DIR, load_module, strings_in, unquote

STACK = json.loads((REPO_ROOT / "stack.json").read_text(encoding="utf-8"))
STACK_REF = re.compile(r"(?<![\w.])local\.stack((?:\.[A-Za-z_]\w*)+)")

# (resource type, label, argument) -> the expression it must be.
FROM_STACK = {
    ("aws_sqs_queue", "approval", "name"): "${local.names.approval_queue}",
    (
        "aws_sqs_queue",
        "approval",
        "visibility_timeout_seconds",
    ): "${local.stack.approval_queue.visibility_timeout_seconds}",
    (
        "aws_sqs_queue",
        "approval",
        "message_retention_seconds",
    ): "${local.stack.approval_queue.message_retention_seconds}",
    ("aws_sqs_queue", "dead_letter", "name"): "${local.names.dead_letter_queue}",
    (
        "aws_sqs_queue",
        "dead_letter",
        "message_retention_seconds",
    ): "${local.stack.dead_letter_queue.message_retention_seconds}",
    ("aws_lambda_function", "this", "function_name"): "${local.names.order_function}",
    ("aws_lambda_function", "this", "handler"): "${local.stack.order_function.handler}",
    ("aws_lambda_function", "this", "runtime"): "${local.stack.order_function.runtime}",
    ("aws_lambda_function", "this", "timeout"): "${local.stack.order_function.timeout_seconds}",
    ("aws_lambda_function", "this", "memory_size"): "${local.stack.order_function.memory_mb}",
    ("aws_sfn_state_machine", "this", "name"): "${local.names.state_machine}",
    ("aws_api_gateway_rest_api", "this", "name"): "${local.names.api}",
    ("aws_api_gateway_resource", "start", "path_part"): "${local.api_path_parts[0]}",
    ("aws_api_gateway_resource", "workflow", "path_part"): "${local.api_path_parts[1]}",
    ("aws_api_gateway_stage", "this", "stage_name"): "${local.stack.api.stage}",
    ("aws_dynamodb_table", "this", "name"): "${local.names.approvals_table}",
    ("aws_dynamodb_table", "this", "hash_key"): "${local.approvals_table.hash_key}",
    ("aws_dynamodb_table", "this", "range_key"): "${local.approvals_table.range_key}",
}


def lookup(document: dict[str, Any], dotted: str) -> Any:
    """Follow a dotted path such as .api.stage into a JSON document."""
    value: Any = document
    for key in dotted.strip(".").split("."):
        value = value[key]
    return value


@pytest.mark.parametrize(("address", "expected"), FROM_STACK.items(), ids=[".".join(key) for key in FROM_STACK])
def test_resource_argument_comes_from_stack_json(address: tuple[str, str, str], expected: str) -> None:
    type_name, label, argument = address
    assert load_module(TERRAFORM_DIR).resources[(type_name, label)].body[argument] == expected


def test_every_resource_name_is_the_prefix_and_the_stack_json_name() -> None:
    names = load_module(TERRAFORM_DIR).locals["names"]
    assert {key: unquote(value) for key, value in names.items()} == {
        key: f"${{var.name_prefix}}-${{local.stack.names.{key}}}" for key in STACK["names"]
    }


def test_the_locals_read_stack_json_and_the_api_path_from_it() -> None:
    local_values = load_module(TERRAFORM_DIR).locals
    assert local_values["stack"] == '${jsondecode(file("${path.module}/../stack.json"))}'
    assert "local.stack.api.path" in local_values["api_path_parts"]


def test_the_dead_letter_redrive_count_comes_from_stack_json() -> None:
    redrive = load_module(TERRAFORM_DIR).resources[("aws_sqs_queue", "approval")].body["redrive_policy"]
    assert re.search(r"maxReceiveCount\s*=\s*local\.stack\.approval_queue\.max_receive_count\b", redrive)
    assert re.search(r"deadLetterTargetArn\s*=\s*aws_sqs_queue\.dead_letter\.arn\b", redrive)


def test_the_api_url_output_ends_with_the_stack_json_path_on_aws_and_in_the_emulator() -> None:
    api_url = load_module(TERRAFORM_DIR).outputs["api_url"].body["value"]
    on_aws = '"${aws_api_gateway_stage.this.invoke_url}${local.stack.api.path}"'
    # the emulator gateway's long form, as emulator/provision/api.py builds it for the built-in stack
    in_emulator = (
        '"${var.emulator_gateway_url}/restapis/${aws_api_gateway_rest_api.this.id}'
        '/${aws_api_gateway_stage.this.stage_name}/_user_request_${local.stack.api.path}"'
    )
    assert api_url == f"${{(local.emulated ? {in_emulator} : {on_aws})}}"


def test_the_approvals_table_takes_its_indexes_and_ttl_from_stack_json() -> None:
    module = load_module(TERRAFORM_DIR)
    table = module.resources[("aws_dynamodb_table", "this")].body
    assert module.locals["approvals_table"] == "${local.stack.approvals_table}"
    blocks = {unquote(name): block for dynamic in table["dynamic"] for name, block in dynamic.items()}
    assert blocks["global_secondary_index"]["for_each"] == "${local.approvals_table.indexes}"
    assert blocks["attribute"]["for_each"] == "${local.approvals_table_keys}"
    (ttl,) = table["ttl"]
    assert ttl["attribute_name"] == "${local.approvals_table.ttl_attribute}"


def test_the_api_model_is_the_order_schema_file() -> None:
    model = load_module(TERRAFORM_DIR).resources[("aws_api_gateway_model", "order")]
    assert model.body["schema"] == '${file("${path.module}/../lambda/order.schema.json")}'


@pytest.mark.parametrize("variable", ["name_prefix", "approval_timeout_seconds"])
def test_variable_default_equals_stack_json(variable: str) -> None:
    default = load_module(TERRAFORM_DIR).variables[variable].body["default"]
    assert unquote(default) == STACK[variable]


def test_every_local_stack_reference_exists_in_stack_json() -> None:
    module = load_module(TERRAFORM_DIR)
    blocks = [*module.resources.values(), *module.data.values(), *module.outputs.values()]
    texts = [text for block in blocks for text in strings_in(block.body)] + list(strings_in(module.locals))
    paths = {path for text in texts for path in STACK_REF.findall(text)}
    assert paths, "no local.stack references found"
    missing = []
    for path in sorted(paths):
        try:
            lookup(STACK, path)
        except (KeyError, TypeError):
            missing.append(f"local.stack{path}")
    assert not missing, f"not in stack.json: {missing}"


def test_no_stack_json_string_is_repeated_as_a_literal_in_terraform() -> None:
    values = [
        *STACK["names"].values(),
        STACK["order_function"]["handler"],
        STACK["order_function"]["runtime"],
        STACK["api"]["path"],
        STACK["api"]["stage"],
    ]
    sources = {path.name: path.read_text(encoding="utf-8") for path in TERRAFORM_DIR.glob("*.tf")}
    repeated = [(name, value) for name, text in sources.items() for value in values if f'"{value}"' in text]
    assert not repeated, f"hard-coded stack.json values: {repeated}"
