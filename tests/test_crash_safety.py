"""Hundreds of decisions through a controller process that is killed with SIGKILL at random moments."""

from __future__ import annotations

import random
import threading

import pytest
import requests

from harness import peek
from harness.orders import ORDER
from harness.processes import ControllerProcess
from harness.stacks import make_stack
from harness.waiting import wait_for

ORDERS = 300
KILLS = 8


def wanted(order_index: int) -> str:
    return "approve" if order_index % 3 else "reject"


def drive(
    controller: ControllerProcess, decisions: dict[str, str], confirmed: dict[str, str], bodies: list[str]
) -> None:
    """Pull and decide until every request has the decision it asked for; tolerate the controller dying."""
    try:
        listing = requests.get(controller.url + "/pending?limit=1000", headers=controller.headers, timeout=10)
        bodies.append(listing.text)
        pending = [request["id"] for request in listing.json()["pending"]]
        # a decision cut short by a kill may have been settled at restart: look those up instead
        for name in pending or [name for name in decisions if name not in confirmed]:
            if name in pending:
                body = {"reason": "soak"} if decisions[name] == "reject" else None
                response = requests.post(
                    f"{controller.url}/{decisions[name]}/{name}", json=body, headers=controller.headers, timeout=10
                )
                state = response.json().get("state")
            else:
                response = requests.get(f"{controller.url}/approvals/{name}", headers=controller.headers, timeout=10)
                state = response.json().get("request", {}).get("state") if response.ok else None
            bodies.append(response.text)
            if state in ("approved", "rejected"):
                confirmed[name] = state
    except (requests.RequestException, ValueError):
        pass  # killed mid-call; the next round finds the request again


@pytest.mark.slow
@pytest.mark.both_sign_in_modes
def test_no_decision_is_lost_or_made_twice_when_the_controller_is_killed_at_random(
    emulator, tmp_path, controller_process, sign_in
):
    stack = make_stack(emulator, visibility_timeout_seconds=2)
    controller = controller_process(stack, tmp_path / "approvals.sqlite3")
    token = sign_in(tmp_path / "approvals.sqlite3")
    kills = 0
    decisions = {stack.start({**ORDER, "order_id": f"ORD-{i}"}): wanted(i) for i in range(ORDERS)}
    confirmed: dict[str, str] = {}
    bodies: list[str] = []
    stop = threading.Event()

    def killer() -> None:
        nonlocal kills
        chaos = random.Random(7)
        for kill in range(1, KILLS + 1):  # spread over the run, so every kill lands while work remains
            due = kill * ORDERS // (KILLS + 1)
            wait_for(
                lambda due=due: stop.is_set() or (len(confirmed) >= due and controller.ready()),
                300,
                "the next moment to kill",
            )
            if stop.wait(chaos.uniform(0, 0.2)):  # at a random point of a pull, a store, a delete or a decision
                return
            kills += len(confirmed) < ORDERS  # a kill once the work is done tests nothing
            controller.restart()

    killing = threading.Thread(target=killer, daemon=True)
    killing.start()
    try:
        wait_for(
            lambda: drive(controller, decisions, confirmed, bodies) or len(confirmed) == ORDERS, 300, "every decision"
        )
    finally:
        stop.set()
        killing.join(timeout=60)
        controller.kill()

    for name, decision in decisions.items():
        execution = stack.wait_until_finished(name)
        expected = ("SUCCEEDED", None) if decision == "approve" else ("FAILED", "Rejected")
        assert (execution["status"], execution.get("error")) == expected, name
        assert len(stack.approval_answers(name)) == 1, name
    assert kills == KILLS, "some kills came after the work was done"
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
