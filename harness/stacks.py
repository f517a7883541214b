"""A queue and a state machine of their own in a running emulator, from the shared template."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from emulator.provision.api import provision_api
from emulator.provision.stack import PARTITION, create_state_machine
from harness.emulator import Emulator
from harness.orders import ORDER
from harness.waiting import wait_for
from stack.definition import load_stack

TEST_ROLE_ARN = "arn:aws:iam::123456789012:role/test-state-machine"
TEST_API_ROLE_ARN = "arn:aws:iam::123456789012:role/test-start-execution"


@dataclass(frozen=True)
class Api:
    """A REST API of its own in the emulator, as terraform/ describes it: the URL of POST <api.path> and its key."""

    url: str
    key: str


@dataclass
class Stack:
    """One isolated approval flow: its queue and its state machine, which uses the emulator's order Lambda."""

    emulator: Emulator
    queue_url: str
    state_machine_arn: str
    dead_letter_queue_url: str | None = None

    def start(self, order: dict[str, Any] = ORDER) -> str:
        """Start an execution the way the API integration does; return its name."""
        arn: str = self.emulator.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(order)
        )["executionArn"]
        return arn.rsplit(":", 1)[-1]

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name

    def describe(self, name: str) -> dict[str, Any]:
        description: dict[str, Any] = self.emulator.client("stepfunctions").describe_execution(
            executionArn=self.execution_arn(name)
        )
        return description

    def approval_answers(self, name: str) -> list[str]:
        """Return the types of the history events that answered the execution's approval task, in order:
        exactly one TaskSucceeded or TaskFailed for a request decided once."""
        history = self.emulator.client("stepfunctions").get_execution_history(
            executionArn=self.execution_arn(name), maxResults=1000
        )["events"]
        details = {"TaskSucceeded": "taskSucceededEventDetails", "TaskFailed": "taskFailedEventDetails"}
        return [e["type"] for e in history if e["type"] in details and e[details[e["type"]]]["resourceType"] == "sqs"]

    def wait_until_finished(self, name: str, timeout: float = 15) -> dict[str, Any]:
        """Return the execution's description once it is no longer RUNNING."""
        return wait_for(
            lambda: (d := self.describe(name))["status"] != "RUNNING" and d, timeout, f"execution {name} to finish"
        )

    def queue_depth(self, queue_url: str | None = None) -> int:
        """Return the messages on the approval queue (or the one named), visible or in flight."""
        attributes = self.emulator.client("sqs").get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def dead_letter_depth(self) -> int:
        """Return the messages on the dead-letter queue, visible or in flight."""
        assert self.dead_letter_queue_url, "this stack was made without a dead-letter queue"
        return self.queue_depth(self.dead_letter_queue_url)


def _dead_letter_queue(sqs: Any, name: str, max_receive_count: int) -> tuple[str, dict[str, str]]:
    """Create a dead-letter queue; return its URL and the redrive policy that sends messages to it."""
    url: str = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count})}


def make_stack(
    emulator: Emulator,
    approval_timeout_seconds: int = 3600,
    visibility_timeout_seconds: int = 60,
    max_receive_count: int | None = None,
) -> Stack:
    """Create a queue and a state machine with a unique name in the emulator; with max_receive_count, a
    dead-letter queue too, as terraform/ makes one."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    sqs = emulator.client("sqs")
    dlq_url, redrive = _dead_letter_queue(sqs, name, max_receive_count) if max_receive_count else (None, {})
    queue_url = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout_seconds), **redrive}
    )["QueueUrl"]
    arn = create_state_machine(
        emulator.client("stepfunctions"),
        name,
        TEST_ROLE_ARN,
        {
            "order_function_arn": emulator.outputs["order_function_arn"],
            "approval_queue_url": queue_url,
            "approval_timeout_seconds": approval_timeout_seconds,
            "partition": PARTITION,
        },
    )
    return Stack(emulator, queue_url, arn, dlq_url)


def make_api(emulator: Emulator, state_machine_arn: str) -> Api:
    """Create the stack's REST API, with a unique name, starting executions of this state machine."""
    stack = load_stack()
    deployment = provision_api(
        emulator.client("apigateway"), stack, f"test-{uuid.uuid4().hex[:12]}", state_machine_arn, TEST_API_ROLE_ARN
    )
    return Api(deployment.path_url(emulator.gateway_url, stack["api"]["path"]), deployment.api_key)
