"""Background work on a DynamoDB table that several controllers share: each round of a kind of work runs on one of
them, each notification is posted once, and a controller killed mid-round leaves the work to another once its lease
ends. Controllers served in threads on one emulator table, the webhook a local receiver."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from controller.storage.dynamodb.items import lease_key, plain, wire
from emulator.provision.table import create_approvals_table
from harness.controllers import ServedController, controller_config
from harness.crash_at import KILLED
from harness.emulator import Emulator
from harness.processes import ControllerProcess
from harness.stacks import Stack
from harness.waiting import wait_for
from stack.definition import load_stack

CONTROLLERS = 3
SECRET = "x" * 40


@pytest.fixture
def table(emulator: Emulator) -> str:
    name = f"shared-{uuid.uuid4().hex[:12]}"
    create_approvals_table(emulator.client("dynamodb"), load_stack()["approvals_table"], name)
    return name


@pytest.fixture
def serve(stack: Stack, table: str, tmp_path: Path) -> Iterator[Callable[..., ServedController]]:
    """Start controllers of the stack on the shared table, in threads; stop them after."""
    started: list[ServedController] = []

    def start(**overrides: Any) -> ServedController:
        database = tmp_path / f"unused-{len(started)}.sqlite3"  # the table is the store
        config = controller_config(
            stack.emulator, stack.queue_url, database, STORE="dynamodb", DYNAMODB_TABLE=table, SECRET_KEY=SECRET
        )
        started.append(ServedController({**config, **overrides}))
        return started[-1]

    yield start
    for controller in started:
        controller.stop()


def watch_checks(controller: ServedController, seen: list[tuple[str, float]], meanwhile: Any = None) -> None:
    """Note each DescribeExecution the controller makes (its execution and when), before it is sent."""

    def noted(params: dict[str, Any], **_: Any) -> None:
        seen.append((params["executionArn"], time.time()))
        if meanwhile is not None:
            meanwhile()

    client = controller.app.extensions["aws"]["stepfunctions"]
    client.meta.events.register("provide-client-params.states.DescribeExecution", noted)


def outbox_of(controller: ServedController) -> dict[str, int]:
    counts: dict[str, int] = controller.get("/pending").json()["notifications"]
    return counts


@pytest.mark.parametrize("lease_seconds", [60.0, 0.05], ids=["round-within-its-lease", "round-outliving-its-lease"])
def test_three_controllers_post_each_stored_requests_notification_once(stack, serve, webhook, lease_seconds):
    webhook.meanwhile = lambda _: time.sleep(0.2)  # a slow webhook: the others read the outbox while one posts
    controllers = [serve(NOTIFY_WEBHOOK_URL=webhook.url, WORK_LEASE_SECONDS=lease_seconds) for _ in range(CONTROLLERS)]

    names = [stack.start() for _ in range(6)]
    wait_for(lambda: {body["request_id"] for body in webhook.received} >= set(names), 60, "every notification")
    counts = wait_for(lambda: outbox_of(controllers[0])["waiting"] == 0 and outbox_of(controllers[0]), 30, "outbox")
    for controller in controllers:
        controller.stop()

    assert Counter(body["request_id"] for body in webhook.received) == Counter(names)  # each once
    assert counts == {"delivered": 6, "failed": 0, "waiting": 0}


def test_liveness_checks_of_three_controllers_are_not_multiplied(stack, serve):
    check_every = 2.0
    seen: list[tuple[str, float]] = []
    # one check at a time, so that a round lasts long enough for another controller's to meet it, were both let run
    controllers = [serve(LIVENESS_CHECK_SECONDS=check_every, LIVENESS_PARALLEL=1) for _ in range(CONTROLLERS)]
    for controller in controllers:
        watch_checks(controller, seen)
    names = [stack.start() for _ in range(8)]
    for name in names:
        controllers[0].wait_for_pending(name, timeout=30)

    arns = {stack.execution_arn(name) for name in names}
    wait_for(lambda: all(sum(arn == seen_arn for seen_arn, _ in seen) >= 3 for arn in arns), 90, "3 checks of each")

    for arn in arns:
        times = sorted(at for seen_arn, at in list(seen) if seen_arn == arn)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        # each check is noted in the store (touch) before any controller finds the request due again
        assert min(gaps) >= check_every - 0.01, f"{arn} checked twice within {min(gaps):.3f} s"


def test_a_controller_killed_mid_round_leaves_the_liveness_checks_to_another_once_its_lease_ends(
    stack, serve, emulator, table, tmp_path
):
    lease_seconds = "3"
    # dies (as under SIGKILL) inside its first liveness check, holding the lease: the request is stored by then
    killed = ControllerProcess(
        emulator,
        stack.queue_url,
        tmp_path / "unused.sqlite3",
        tmp_path / "killed.log",
        crash_at="before-call.states.DescribeExecution",
        STORE="dynamodb",
        DYNAMODB_TABLE=table,
        SECRET_KEY=SECRET,
        LIVENESS_CHECK_SECONDS="1",
        WORK_LEASE_SECONDS=lease_seconds,
    )
    killed.start()
    try:
        killed.wait_until_ready()
        name = stack.start()
        wait_for(lambda: killed.exited() is not None, 30, "the controller to die in its liveness check")
    finally:
        killed.kill()
    found = emulator.client("dynamodb").get_item(TableName=table, Key=wire(lease_key("liveness"))).get("Item")
    assert found is not None, "the killed controller held no liveness lease"
    lease = plain(found)

    checks: list[tuple[str, float]] = []
    other = serve(LIVENESS_CHECK_SECONDS=1, WORK_LEASE_SECONDS=float(lease_seconds))
    watch_checks(other, checks)
    wait_for(lambda: checks, 30, "the other controller checking the execution")

    assert killed.exited() == KILLED and lease["owner"].startswith("controller-")
    assert other.background is not None and lease["owner"] != other.background.owner
    assert checks[0][0] == stack.execution_arn(name)
    assert checks[0][1] >= datetime.fromisoformat(lease["expires_at"]).timestamp()  # not before the lease ended
    assert other.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
