"""Hundreds of decisions through a controller process that is killed with SIGKILL at random moments."""

from __future__ import annotations

import pytest

from harness import peek
from harness.orders import ORDER
from harness.soak import drive, random_kills, wanted, wrongly_ended
from harness.stacks import make_stack
from harness.waiting import wait_for

ORDERS = 300
KILLS = 8


@pytest.mark.slow
@pytest.mark.both_sign_in_modes
def test_no_decision_is_lost_or_made_twice_when_the_controller_is_killed_at_random(
    emulator, tmp_path, controller_process, sign_in
):
    stack = make_stack(emulator, visibility_timeout_seconds=2)
    controller = controller_process(stack, tmp_path / "approvals.sqlite3")
    token = sign_in(tmp_path / "approvals.sqlite3")
    decisions = {stack.start({**ORDER, "order_id": f"ORD-{i}"}): wanted(i) for i in range(ORDERS)}
    confirmed: dict[str, str] = {}
    bodies: list[str] = []

    try:
        with random_kills([controller], confirmed, ORDERS, KILLS, seed=7) as kills:
            wait_for(
                lambda: drive(controller, decisions, confirmed, bodies) or len(confirmed) == ORDERS,
                300,
                "every decision",
            )
    finally:
        controller.kill()

    assert not wrongly_ended(stack, decisions)
    assert kills.made == KILLS, "some kills came after the work was done"
    assert stack.queue_depth() == 0
    rows = peek.query(tmp_path / "approvals.sqlite3", "SELECT id, state, task_token FROM approval_requests")
    assert {row["id"]: row["state"] for row in rows} == {
        n: "approved" if d == "approve" else "rejected" for n, d in decisions.items()
    }
    logs = controller.log.read_text(errors="replace")
    leaked = [
        row["id"] for row in rows if row["task_token"] in logs or any(row["task_token"] in body for body in bodies)
    ]
    assert not leaked, "task tokens appeared in logs or responses"
    assert not (token and token in logs), "the API token appeared in the logs"
