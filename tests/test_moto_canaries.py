"""Canaries: moto as shipped still differs from AWS where the emulator fixes it (emulator/patches/).

Each test is named after its fix and asserts moto's own answer. Once one fails, moto answers as AWS
does: the fix in emulator/patches/ can go, with this canary.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto.sqs.models
import pytest
from botocore.config import Config
from moto import mock_aws

from emulator import patches
from harness import aws_answers

REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parents[1]


def clients(service: str, config: Config | None = None) -> Any:
    return boto3.client(service, region_name=REGION, config=config)


@pytest.fixture
def moto_as_shipped() -> Iterator[None]:
    """moto in this process, without the emulator's fixes, running state machines as the emulator does."""
    assert not patches.applied()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


pytestmark = pytest.mark.usefixtures("moto_as_shipped")


def test_canary_send_task_failure_keeps_the_cause() -> None:
    task = aws_answers.waiting_task(clients)
    execution_arn = task.start()
    clients("stepfunctions").send_task_failure(taskToken=task.token(), error="Rejected", cause="out of stock")

    assert "cause" not in task.finished(execution_arn)


def test_canary_a_token_is_answered_once() -> None:
    again, failure = aws_answers.answers_to_a_spent_token(clients)
    assert (again != "TaskTimedOut", failure) == (True, None)  # again: 200 or InvalidToken, as the execution ends
    assert aws_answers.answer_to_a_timed_out_token(clients) is None


def test_canary_send_task_success_refuses_output_that_is_not_json() -> None:
    assert aws_answers.answers_to_output_that_is_not_json(clients)[0] is None


def test_canary_an_empty_token_is_a_validation_error() -> None:
    assert aws_answers.answer_to_an_empty_token(clients) == "InvalidToken"


def test_canary_start_execution_refuses_input_over_256_kib() -> None:
    task = aws_answers.waiting_task(clients)
    oversized = json.dumps({"note": "x" * (256 * 1024)})

    assert aws_answers.error_code(lambda: task.start(input=oversized)) is None


def test_canary_start_execution_refuses_input_that_is_not_json() -> None:
    assert aws_answers.answer_to_input_that_is_not_json(clients) == ""


def test_canary_start_execution_refuses_invalid_names() -> None:
    assert aws_answers.answer_to_a_name_with_spaces(clients) is None


def test_canary_describe_execution_has_input_details() -> None:
    assert aws_answers.described_input_details(clients) is None


def test_canary_validate_and_list_versions_for_terraform() -> None:
    sfn = clients("stepfunctions")
    arn = aws_answers.waiting_task(clients).state_machine_arn

    with pytest.raises(NotImplementedError):
        sfn.validate_state_machine_definition(definition="{}")
    with pytest.raises(NotImplementedError):
        sfn.list_state_machine_versions(stateMachineArn=arn)


def test_canary_receive_reads_the_clock_cheaply(monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = clients("sqs")
    queue_url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    for number in range(50):
        sqs.send_message(QueueUrl=queue_url, MessageBody=str(number))
    reads = []
    clock = moto.sqs.models.unix_time_millis
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", lambda *args: reads.append(1) or clock(*args))

    sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)

    assert len(reads) >= 50  # at least once per queued message, for one message returned


def test_canary_receive_reads_only_the_retention_period(monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = clients("sqs")
    queue_url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="order")
    queue_type = moto.sqs.models.Queue
    built = []
    every = queue_type.attributes
    monkeypatch.setattr(queue_type, "attributes", property(lambda queue: built.append(1) or every.fget(queue)))

    sqs.receive_message(QueueUrl=queue_url)

    assert built  # every attribute of the queue, to read its retention period


def test_canary_queue_attributes_include_redrive_policies_as_aws_returns_them() -> None:
    sqs = clients("sqs")
    dead_letter_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=dead_letter_url, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})}
    )
    compact = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": 5}, separators=(",", ":"))
    queue_url = sqs.create_queue(QueueName="queue", Attributes={"RedrivePolicy": compact})["QueueUrl"]

    every = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["All"])["Attributes"]
    redrive = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert "RedriveAllowPolicy" not in every
    assert redrive["RedrivePolicy"] != compact


def test_canary_lambda_keeps_the_logging_config() -> None:
    role = clients("iam").create_role(RoleName="logging", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("function.py", "def handler(event, context):\n    return event\n")
    lambda_client = clients("lambda")
    lambda_client.create_function(
        FunctionName="logging",
        Runtime="python3.12",
        Role=role,
        Handler="function.handler",
        Code={"ZipFile": code.getvalue()},
        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/orders"},
    )

    assert "LoggingConfig" not in lambda_client.get_function_configuration(FunctionName="logging")


@pytest.mark.parametrize("fix", [fix for fix in patches.FIXES if fix.canary], ids=lambda fix: fix.name)
def test_every_fix_of_a_moto_difference_has_its_canary(fix: patches.Fix) -> None:
    assert f"def test_canary_{fix.name}(" in (ROOT / str(fix.canary)).read_text()
