"""Three `python -m controller` processes on one DynamoDB table, deciding hundreds of requests between them
while they are SIGKILLed and restarted at random."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from controller.storage.dynamodb import DynamoDbBackend
from harness.controllers import add_user_to
from harness.emulator import Emulator
from harness.orders import ORDER
from harness.processes import ControllerProcess
from harness.soak import drive, random_kills, wanted, wrongly_ended
from harness.stacks import make_stack
from harness.tables import dynamodb_settings
from harness.waiting import wait_for

# The issue asks for 300 decisions: `SOAK_ORDERS=300` runs them (passed in 350 s with 12 kills, load average 4 on
# two cores). CI runs 60, which leave its loaded machine a margin and cost both of its Pythons about 3 minutes of
# the 90. Nearly all the time is CPU (the emulator's Step Functions and the controller processes), not waiting.
ORDERS = int(os.environ.get("SOAK_ORDERS", "60"))
CONTROLLERS = 3
KILLS = max(6, ORDERS // 25)  # two per controller at least, on average
SEED = 17
DRIVE_SECONDS = 600


@pytest.fixture
def killed_after(tmp_path: Path) -> Iterator[list[ControllerProcess]]:
    """Controller processes a test starts: killed once it ends, however it ends."""
    started: list[ControllerProcess] = []
    yield started
    for process in started:
        process.kill()


@pytest.mark.slow
def test_no_decision_is_lost_or_made_twice_when_controllers_on_one_table_are_killed_at_random(
    emulator: Emulator, tmp_path: Path, killed_after: list[ControllerProcess]
) -> None:
    """ORDERS (60, or SOAK_ORDERS) decisions, a third through each of CONTROLLERS processes (each pulls the queue
    and may store any request), with KILLS SIGKILLs spread over the run: each execution ends as decided, with
    exactly one answer to its approval task in its history; the table holds every request as decided; the queue
    is empty; no task token appears in a log or an answer."""
    stack = make_stack(emulator, visibility_timeout_seconds=2)  # an order taken by a killed controller returns soon
    settings = dynamodb_settings(emulator)  # a new table
    backend = DynamoDbBackend(emulator.client("dynamodb"), settings["DYNAMODB_TABLE"])
    token = add_user_to(backend, "Grace")
    for index in range(CONTROLLERS):
        database, log = tmp_path / f"controller-{index}.sqlite3", tmp_path / f"controller-{index}.log"
        killed_after.append(ControllerProcess(emulator, stack.queue_url, database, log, token, **settings))
        killed_after[-1].start()
    for controller in killed_after:
        controller.wait_until_ready()
    decisions = {stack.start({**ORDER, "order_id": f"ORD-{i}"}): wanted(i) for i in range(ORDERS)}
    shares = [dict(list(decisions.items())[index::CONTROLLERS]) for index in range(CONTROLLERS)]
    confirmed: dict[str, str] = {}
    bodies: list[str] = []

    def one_round() -> bool:
        """Each controller decides its share at once; whether every decision is confirmed now."""
        with ThreadPoolExecutor(CONTROLLERS) as pool:
            list(pool.map(drive, killed_after, shares, [confirmed] * CONTROLLERS, [bodies] * CONTROLLERS))
        return len(confirmed) == ORDERS

    with random_kills(killed_after, confirmed, ORDERS, KILLS, SEED) as kills:
        wait_for(one_round, DRIVE_SECONDS, "every decision")
    for controller in killed_after:
        controller.kill()

    assert not wrongly_ended(stack, decisions)
    assert kills.made == KILLS, "some kills came after the work was done"
    assert stack.queue_depth() == 0
    with closing(backend.open()) as store:
        stored = {name: store.get_request(name) for name in decisions}
    assert {name: request and request.state for name, request in stored.items()} == {
        name: "approved" if decision == "approve" else "rejected" for name, decision in decisions.items()
    }
    logs = "".join(controller.log.read_text(errors="replace") for controller in killed_after)
    tokens = {name: request.task_token for name, request in stored.items() if request}
    leaked = [name for name, task_token in tokens.items() if task_token in logs or any(task_token in b for b in bodies)]
    assert not leaked, "task tokens appeared in logs or responses"
    assert token not in logs, "the API token appeared in the logs"
