"""Controller pieces on moto's in-process mock: configuration, message parsing, the inbox."""

from __future__ import annotations

import json
from contextlib import closing

import boto3
import pytest
from moto import mock_aws

from controller.approval import inbox
from controller.core.config import ConfigurationError, load_config
from controller.storage.sqlite import SqliteBackend
from controller.web import history

MESSAGE = {
    "MessageTitle": "Processing Order, approve / reject to proceed.",
    "TaskToken": "token-" + "x" * 600,
    "ExecutionName": "exec-1",
    "ExecutionArn": "arn:aws:states:eu-west-1:123456789012:execution:sm:exec-1",
    "Order": {"order_id": "ORD-1"},
    "RequestedAt": "2026-01-01T10:00:00.000Z",
    "TimeoutSeconds": 90,
}


def test_environment_variables_win_over_every_other_source(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"approval_queue_url": {"value": "http://emulated/q"}}))

    config = load_config(
        {
            "APPROVAL_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/1/q",
            "AWS_REGION": "eu-west-2",
            "EMULATOR_OUTPUTS": str(outputs),
            "CONTROLLER_PORT": "3100",
        }
    )

    assert (config["CONFIG_SOURCE"], config["APPROVAL_QUEUE_URL"], config["PORT"]) == (
        "environment",
        "https://sqs.eu-west-2.amazonaws.com/1/q",
        3100,
    )


def test_the_controller_listens_on_loopback_port_3000_unless_told_otherwise(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"approval_queue_url": {"value": "http://127.0.0.1:5000/1/q"}}))

    config = load_config({"EMULATOR_OUTPUTS": str(outputs)})

    assert (config["HOST"], config["PORT"]) == ("127.0.0.1", 3000)


def test_the_emulator_outputs_file_is_used_when_present(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                key: {"value": value}
                for key, value in {
                    "approval_queue_url": "http://127.0.0.1:5000/1/q",
                    "aws_endpoint_url": "http://127.0.0.1:5000",
                    "aws_region": "eu-west-1",
                }.items()
            }
        )
    )

    config = load_config({"EMULATOR_OUTPUTS": str(outputs)})

    assert (config["CONFIG_SOURCE"], config["AWS_ENDPOINT_URL"]) == ("emulator", "http://127.0.0.1:5000")


def test_the_dead_letter_queue_comes_from_the_outputs_unless_the_environment_names_one(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "approval_queue_url": {"value": "http://127.0.0.1:5000/1/q"},
                "dead_letter_queue_url": {"value": "http://127.0.0.1:5000/1/q-dlq"},
            }
        )
    )

    from_outputs = load_config({"EMULATOR_OUTPUTS": str(outputs)})
    named = load_config({"EMULATOR_OUTPUTS": str(outputs), "DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:5000/1/other"})
    alone = load_config({"APPROVAL_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/1/q"})

    assert from_outputs["DEAD_LETTER_QUEUE_URL"] == "http://127.0.0.1:5000/1/q-dlq"
    assert named["DEAD_LETTER_QUEUE_URL"] == "http://127.0.0.1:5000/1/other"
    assert alone["DEAD_LETTER_QUEUE_URL"] is None


def test_no_stack_at_all_is_a_clear_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="set APPROVAL_QUEUE_URL, start the emulator"):
        load_config({"EMULATOR_OUTPUTS": str(tmp_path / "absent.json")})


def test_a_message_becomes_a_request_with_its_expiry_in_utc():
    request = inbox.parse_message(json.dumps(MESSAGE))

    assert (request.id, request.requested_at, request.expires_at) == (
        "exec-1",
        "2026-01-01T10:00:00.000+00:00",
        "2026-01-01T10:01:30.000+00:00",
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        "[" * 100_000 + "]" * 100_000,
        json.dumps({**MESSAGE, "TaskToken": None}),
        json.dumps({k: v for k, v in MESSAGE.items() if k != "TaskToken"}),
        json.dumps({**MESSAGE, "TimeoutSeconds": 1e20}),
        json.dumps({**MESSAGE, "RequestedAt": "9999-12-31T23:59:59Z"}),
        json.dumps({**MESSAGE, "Order": [1]}),
        json.dumps({**MESSAGE, "ExecutionArn": "exec-1"}),  # DescribeExecution would refuse it for ever
        json.dumps({**MESSAGE, "TaskToken": "t" * 1025}),
    ],
)
def test_anything_else_is_an_invalid_message(body):
    with pytest.raises(inbox.InvalidMessage):
        inbox.parse_message(body)


@mock_aws
def test_the_inbox_stores_valid_messages_once_and_leaves_invalid_ones_for_the_dead_letter_queue(tmp_path):
    sqs = boto3.client("sqs", region_name="eu-west-1")
    queue_url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    for body in (json.dumps(MESSAGE), "not json", json.dumps(MESSAGE)):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    backend = SqliteBackend(str(tmp_path / "db.sqlite3"))
    backend.migrate()
    with closing(backend.open()) as store:
        inbox.pull(store, sqs, queue_url, wait_seconds=0, max_batches=3)
        assert [request.id for request in store.pending()] == ["exec-1"]
    left = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\0"])
def test_a_csv_text_cell_that_a_spreadsheet_would_run_gets_a_quote_and_nothing_else_does(start):
    assert history.neutralised(f"{start}17") == f"'{start}17"
    assert history.neutralised(f"ORD{start}17") == f"ORD{start}17"  # only the first character matters
    assert history.neutralised(-17) == -17  # a number is a number: a spreadsheet shows it, runs nothing
    assert history.neutralised(None) is None


def test_the_dynamodb_store_takes_the_stacks_table_unless_one_is_named(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps({"approval_queue_url": {"value": "http://x/q"}, "approvals_table_name": {"value": "stack-table"}})
    )
    shared = {"EMULATOR_OUTPUTS": str(outputs), "CONTROLLER_STORE": "dynamodb", "CONTROLLER_SECRET_KEY": "k" * 32}

    assert load_config(shared)["DYNAMODB_TABLE"] == "stack-table"
    assert load_config({**shared, "CONTROLLER_DYNAMODB_TABLE": "named"})["DYNAMODB_TABLE"] == "named"
    assert load_config({"EMULATOR_OUTPUTS": str(outputs)})["STORE"] == "sqlite"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"CONTROLLER_STORE": "postgres"}, "CONTROLLER_STORE must be sqlite"),
        ({"CONTROLLER_STORE": "dynamodb"}, "CONTROLLER_SECRET_KEY"),
        ({"CONTROLLER_STORE": "dynamodb", "CONTROLLER_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"CONTROLLER_STORE": "dynamodb", "CONTROLLER_SECRET_KEY": "k" * 32}, "set CONTROLLER_DYNAMODB_TABLE"),
    ],
)
def test_a_store_setting_that_cannot_work_is_refused_saying_what_to_set(settings, named):
    with pytest.raises(ConfigurationError, match=named):
        load_config({"APPROVAL_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/1/q", **settings})
