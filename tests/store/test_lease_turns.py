"""Turns at background work over each store's leases: a holder keeps its lease across rounds and asks the store
only once half of it is gone, a controller refused does not ask again before the lease's end, and a lease given
back is free at once to a controller not waiting on a refusal."""

from __future__ import annotations

import time
from datetime import datetime

from controller.service.turns import Turns
from controller.storage.interface import Store
from controller.storage.records import Lease

LEASE_SECONDS = 2.0  # long enough that a stall of the loaded CI machine does not end it mid-test


class Asking:
    """A store's leases, counting the requests for one."""

    def __init__(self, store: Store) -> None:
        self.store, self.asked = store, 0

    def take_lease(self, work: str, owner: str, seconds: float) -> Lease:
        self.asked += 1
        return self.store.take_lease(work, owner, seconds)

    def drop_lease(self, work: str, owner: str) -> None:
        self.store.drop_lease(work, owner)


def sleep_past(timestamp: str) -> None:
    time.sleep(max(datetime.fromisoformat(timestamp).timestamp() - time.time(), 0) + 0.01)


def test_a_holder_keeps_its_lease_across_rounds_and_extends_it_once_half_is_gone(store) -> None:
    leases, turns = Asking(store), Turns("controller-a", LEASE_SECONDS)

    assert [turns.ours(leases, "upkeep") for _ in range(5)] == [True] * 5
    assert leases.asked == 1
    time.sleep(LEASE_SECONDS / 2 + 0.05)
    assert turns.ours(leases, "upkeep") and leases.asked == 2
    assert not store.take_lease("upkeep", "controller-b", LEASE_SECONDS).held_by("controller-b")  # extended


def test_a_controller_refused_asks_again_only_once_the_lease_ended_and_then_takes_it(store) -> None:
    held = store.take_lease("liveness", "controller-a", LEASE_SECONDS)
    leases, turns = Asking(store), Turns("controller-b", LEASE_SECONDS)

    assert [turns.ours(leases, "liveness") for _ in range(5)] == [False] * 5
    assert leases.asked == 1
    sleep_past(held.expires_at)
    assert turns.ours(leases, "liveness") and leases.asked == 2


def test_a_lease_given_back_is_free_at_once_to_a_controller_not_waiting_on_a_refusal(store) -> None:
    holder, refused = Turns("controller-a", 300), Turns("controller-b", 300)
    assert holder.ours(store, "notify") and not refused.ours(store, "notify")

    holder.give_back(store, ["notify", "claims"])  # claims: never held, nothing to give back

    assert Turns("controller-c", 300).ours(store, "notify")
    assert not refused.ours(store, "notify")  # told the lease lasts 300 s, it does not ask before then
