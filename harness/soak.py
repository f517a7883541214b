"""Deciding many requests through controller processes that may die at any moment: the crash soaks' driver."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests

from harness.processes import ControllerProcess
from harness.stacks import Stack
from harness.waiting import wait_for

NEXT_KILL_SECONDS = 300  # the most a soak waits for the confirmations that make the next kill due


def wanted(order_index: int) -> str:
    """The decision a soak asks for its order_index-th order: two approvals, then a rejection."""
    return "approve" if order_index % 3 else "reject"


def wrongly_ended(stack: Stack, decisions: dict[str, str]) -> dict[str, object]:
    """The executions that did not end as decided, or whose approval task was not answered exactly once, each
    with what it shows instead (waiting for each to end)."""
    wrong: dict[str, object] = {}
    for name, decision in decisions.items():
        execution = stack.wait_until_finished(name)
        expected = ("SUCCEEDED", None) if decision == "approve" else ("FAILED", "Rejected")
        ended, answers = (execution["status"], execution.get("error")), stack.approval_answers(name)
        if ended != expected or len(answers) != 1:
            wrong[name] = (ended, answers)
    return wrong


def drive(
    controller: ControllerProcess, decisions: dict[str, str], confirmed: dict[str, str], bodies: list[str]
) -> None:
    """One round: decide the controller's pending requests among `decisions` as asked, noting in `confirmed` each
    one it says is decided; keep every body it answered in `bodies`. A controller dying mid-call ends the round."""
    try:
        listing = requests.get(controller.url + "/pending?limit=1000", headers=controller.headers, timeout=10)
        bodies.append(listing.text)
        if not listing.ok:  # refused for now (AWS or the store slow to answer, say): the next round asks again
            return
        pending = [request["id"] for request in listing.json()["pending"] if request["id"] in decisions]
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


@dataclass
class Kills:
    """What random_kills did: how many kills landed while work remained."""

    made: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


@contextmanager
def random_kills(
    controllers: Sequence[ControllerProcess], confirmed: dict[str, str], total: int, kills: int, seed: int
) -> Iterator[Kills]:
    """For the block, SIGKILL and restart controllers in a thread: the k-th of `kills` once k/(kills + 1) of the
    `total` decisions are confirmed, a random moment (up to 0.2 s) later, a random one of the controllers that
    serves then. Seeded, so a run's choices are the same every time; the kills stop with the block."""
    done = Kills()

    def killer() -> None:
        chaos = random.Random(seed)
        for kill in range(1, kills + 1):  # spread over the run, so every kill lands while work remains
            victim, due = chaos.choice(controllers), kill * total // (kills + 1)
            wait_for(
                lambda: done.stop.is_set() or (len(confirmed) >= due and victim.ready()),  # noqa: B023 (waited here)
                NEXT_KILL_SECONDS,
                "the next moment to kill",
            )
            if done.stop.wait(chaos.uniform(0, 0.2)):  # at a random point of a pull, a store, a delete or a decision
                return
            done.made += len(confirmed) < total  # a kill once the work is done tests nothing
            victim.restart()

    killing = threading.Thread(target=killer, daemon=True)
    killing.start()
    try:
        yield done
    finally:
        done.stop.set()
        killing.join(timeout=60)
