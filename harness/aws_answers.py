"""The Step Functions calls where moto and AWS answer differently, as scenarios over any set of clients.

Against the emulator each scenario gives AWS's answer (tests/test_emulator_stepfunctions.py); against
moto as shipped, moto's own (the canaries in tests/test_moto_canaries.py, which fail once moto
answers as AWS does).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from harness.waiting import wait_for

Clients = Callable[..., Any]  # (service, config=None) -> a boto3 client
ROLE_ARN = "arn:aws:iam::123456789012:role/waiting-task"
WAIT_SECONDS = 30


def error_code(call: Callable[[], object]) -> str | None:
    """The AWS error code the call answers, or None when it succeeds."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


@dataclass
class WaitingTask:
    """A state machine whose one task sends its token to a queue and waits for an answer."""

    clients: Clients
    queue_url: str
    state_machine_arn: str

    def start(self, **options: str) -> str:
        """Start an execution; return its ARN."""
        options.setdefault("name", f"run-{uuid.uuid4().hex[:12]}")
        arn: str = self.clients("stepfunctions").start_execution(stateMachineArn=self.state_machine_arn, **options)[
            "executionArn"
        ]
        return arn

    def token(self) -> str:
        """The token of the next execution to wait, from the queue."""
        sqs = self.clients("sqs")

        def received() -> list[dict[str, Any]]:
            messages: list[dict[str, Any]] = sqs.receive_message(QueueUrl=self.queue_url, WaitTimeSeconds=1).get(
                "Messages", []
            )
            return messages

        (message,) = wait_for(received, WAIT_SECONDS, "the task token on the queue")
        sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        token: str = json.loads(message["Body"])["token"]
        return token

    def describe(self, execution_arn: str) -> dict[str, Any]:
        description: dict[str, Any] = self.clients("stepfunctions").describe_execution(executionArn=execution_arn)
        return description

    def finished(self, execution_arn: str) -> dict[str, Any]:
        """The execution's description once it has ended."""

        def ended() -> dict[str, Any] | None:
            description = self.describe(execution_arn)
            return description if description["status"] != "RUNNING" else None

        return wait_for(ended, WAIT_SECONDS, "the execution to end")


def waiting_task(clients: Clients, timeout_seconds: int = 60) -> WaitingTask:
    """Create a queue and a state machine that waits on it for at most timeout_seconds."""
    name = f"waiting-{uuid.uuid4().hex[:12]}"
    queue_url: str = clients("sqs").create_queue(QueueName=name)["QueueUrl"]
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": timeout_seconds,
        "End": True,
    }
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": task}})
    arn: str = clients("stepfunctions").create_state_machine(name=name, definition=definition, roleArn=ROLE_ARN)[
        "stateMachineArn"
    ]
    return WaitingTask(clients, queue_url, arn)


def answers_to_a_spent_token(clients: Clients) -> tuple[str | None, str | None]:
    """SendTaskSuccess and SendTaskFailure with a token already answered: their error codes."""
    task = waiting_task(clients)
    task.start()
    token = task.token()
    sfn = clients("stepfunctions")
    sfn.send_task_success(taskToken=token, output="{}")
    return (
        error_code(lambda: sfn.send_task_success(taskToken=token, output="{}")),
        error_code(lambda: sfn.send_task_failure(taskToken=token, error="Rejected")),
    )


def answer_to_a_timed_out_token(clients: Clients) -> str | None:
    """SendTaskFailure with the token of a task that timed out: its error code."""
    task = waiting_task(clients, timeout_seconds=1)
    execution_arn = task.start()
    token = task.token()
    task.finished(execution_arn)
    return error_code(lambda: clients("stepfunctions").send_task_failure(taskToken=token, error="Rejected"))


def answers_to_output_that_is_not_json(clients: Clients) -> tuple[str | None, str | None]:
    """SendTaskSuccess with output that is not JSON, then with JSON: their error codes."""
    task = waiting_task(clients)
    task.start()
    token = task.token()
    sfn = clients("stepfunctions")
    return (
        error_code(lambda: sfn.send_task_success(taskToken=token, output="approved")),
        error_code(lambda: sfn.send_task_success(taskToken=token, output="{}")),
    )


def answer_to_an_empty_token(clients: Clients) -> str | None:
    """SendTaskSuccess with an empty token, sent past the SDK's own length check: its error code."""
    sfn = clients("stepfunctions", config=Config(parameter_validation=False))
    return error_code(lambda: sfn.send_task_success(taskToken="", output="{}"))


def answer_to_a_name_with_spaces(clients: Clients) -> str | None:
    """StartExecution with a name holding a space: its error code."""
    task = waiting_task(clients)
    return error_code(lambda: task.start(name="two words"))


def answer_to_input_that_is_not_json(clients: Clients) -> str | None:
    """StartExecution with input that is not JSON: its error code."""
    task = waiting_task(clients)
    return error_code(lambda: task.start(input="{not json"))


def described_input_details(clients: Clients) -> object:
    """What DescribeExecution says of a running execution's input details (None when it says nothing)."""
    task = waiting_task(clients)
    return task.describe(task.start()).get("inputDetails")
