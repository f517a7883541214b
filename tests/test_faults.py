"""Faults: AWS throttling and connection errors under the controller, and poison messages on its queue."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from harness.stacks import make_stack
from harness.waiting import wait_for

pytestmark = pytest.mark.both_sign_in_modes


class ThrottledBody:
    """The raw body of a throttling answer, as botocore reads it."""

    def stream(self, **_: Any) -> Any:
        yield json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()


def inject(client: Any, operation: str, failures: int, fault: str) -> Callable[[], int]:
    """Make the next `failures` attempts of an operation fail at the HTTP layer; return an attempt counter."""
    attempts = [0]

    def on_send(request: Any, **_: Any) -> AWSResponse | None:
        attempts[0] += 1
        if attempts[0] > failures:
            return None
        if fault == "connection":
            raise EndpointConnectionError(endpoint_url=request.url)
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, ThrottledBody())

    client.meta.events.register(f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}", on_send)
    return lambda: attempts[0]


@pytest.mark.parametrize("fault", ["throttling", "connection"])
def test_a_decision_that_meets_transient_faults_is_retried_and_goes_through(stack, controller_factory, fault):
    controller = controller_factory(stack, AWS_MAX_ATTEMPTS=4)
    name = stack.start()
    controller.wait_for_pending(name)
    attempts = inject(controller.app.extensions["aws"]["stepfunctions"], "SendTaskSuccess", 2, fault)

    response = controller.post(f"/approve/{name}")

    assert response.status_code == 200, response.text
    assert attempts() == 3
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_when_the_retries_run_out_the_caller_gets_503_and_the_request_stays_pending(stack, controller_factory):
    controller = controller_factory(stack, AWS_MAX_ATTEMPTS=3)
    name = stack.start()
    controller.wait_for_pending(name)
    attempts = inject(controller.app.extensions["aws"]["stepfunctions"], "SendTaskSuccess", 3, "throttling")

    refused = controller.post(f"/approve/{name}")

    assert (refused.status_code, refused.json()["error"], attempts()) == (503, "AwsUnavailable", 3)
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
    assert controller.post(f"/approve/{name}").status_code == 200
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(("failures", "warned"), [(2, False), (3, True)])
def test_receive_faults_are_retried_and_past_the_retries_pending_still_answers(
    stack, controller_factory, failures, warned
):
    # /pending's own pull, the only one without the background worker
    controller = controller_factory(stack, AWS_MAX_ATTEMPTS=3, BACKGROUND=False)
    name = stack.start()
    wait_for(lambda: stack.queue_depth() == 1, 15, "the approval request on the queue")
    inject(controller.app.extensions["aws"]["sqs"], "ReceiveMessage", failures, "connection")

    listing = controller.get("/pending")

    assert listing.status_code == 200
    assert bool(listing.json()["warnings"]) is warned
    assert ([r["id"] for r in listing.json()["pending"]] == [name]) is not warned
    controller.wait_for_pending(name)


def test_poison_messages_are_set_aside_for_the_dead_letter_queue_and_valid_ones_keep_flowing(
    emulator, controller_factory
):
    sqs = emulator.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"poison-dlq-{os.getpid()}-{random.randrange(10**6)}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack = make_stack(emulator, visibility_timeout_seconds=1)
    sqs.set_queue_attributes(
        QueueUrl=stack.queue_url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
    )
    controller = controller_factory(stack)
    for body in ("not json", json.dumps({"MessageTitle": "no token here", "ExecutionName": "x"})):
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    name = stack.start()

    controller.wait_for_pending(name)
    listing = wait_for(
        lambda: len((answer := controller.get("/pending").json())["invalid_messages"]) == 2 and answer,
        15,
        "both poison messages to be listed",
    )
    wait_for(
        lambda: controller.get("/pending") and stack.queue_depth() == 0, 20, "the poison messages to leave the queue"
    )

    assert {m["reason"] for m in listing["invalid_messages"]} == {
        "not an approval request: JSONDecodeError",
        "not an approval request: KeyError",
    }
    dead = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert dead["ApproximateNumberOfMessages"] == "2"
    assert controller.post(f"/approve/{name}").status_code == 200
