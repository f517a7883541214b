"""A controller that starts on a database whose pending requests' executions are gone closes them first."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from controller.approval.restart import CHECKED_BEFORE_SERVING
from harness.controllers import ServedController
from harness.orders import ORDER
from harness.stacks import Stack
from harness.waiting import wait_for

GONE = CHECKED_BEFORE_SERVING + 5  # more than start-up checks itself: the rest are checked while it serves


def send_requests_of_executions_that_never_existed(stack: Stack, count: int) -> list[str]:
    sqs = stack.emulator.client("sqs")
    prefix = stack.state_machine_arn.replace(":stateMachine:", ":execution:")
    names = [f"gone-{number}" for number in range(count)]
    for name in names:
        body = {
            "ExecutionName": name,
            "ExecutionArn": f"{prefix}:{name}",
            "TaskToken": f"token-of-{name}",
            "Order": ORDER,
            "RequestedAt": datetime.now(timezone.utc).isoformat(),
            "TimeoutSeconds": 3600,
        }
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))
    return names


def pending_ids(controller: ServedController) -> set[str]:
    return {request["id"] for request in controller.get("/pending?limit=1000").json()["pending"]}


def test_start_up_closes_requests_whose_executions_are_gone_and_keeps_the_live_one(
    stack: Stack, controller_factory: Callable[..., ServedController]
) -> None:
    # GIVEN a live pending request, then more pending requests than start-up checks, of executions that never were
    live = stack.start()
    first = controller_factory(stack, LIVENESS_CHECK_SECONDS=3600)
    first.wait_for_pending(live)
    gone = send_requests_of_executions_that_never_existed(stack, GONE)
    wait_for(lambda: pending_ids(first) == {live, *gone}, 60, "every request stored")
    first.stop()

    # WHEN a controller starts again on the same database, its liveness checks an hour away
    second = controller_factory(stack, LIVENESS_CHECK_SECONDS=3600)

    # THEN the oldest CHECKED_BEFORE_SERVING were checked before it answered, and the rest soon after
    assert len(pending_ids(second)) <= 1 + GONE - (CHECKED_BEFORE_SERVING - 1)
    wait_for(lambda: pending_ids(second) == {live}, 60, "only the live request pending")
    closed = second.get(f"/approvals/{gone[0]}").json()["request"]
    assert (closed["state"], closed["closed_reason"]) == ("closed", "The execution no longer exists.")
