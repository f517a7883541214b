"""This controller's turns at the kinds of background work on a shared store (docs/shared-store.md, "Work claimed
per item"): a lease it took is kept across rounds and extended once half of it is gone, and a lease another
controller holds is not asked for again before it ends, so that an idle controller spends next to no requests
on leases."""

from __future__ import annotations

from collections.abc import Iterable

from controller.storage.interface import LeaseStore
from controller.storage.records import Lease, now


class Turns:
    """The leases this controller last saw, one per kind of work: its own, and other controllers' with their ends.

    Each kind of work is done by one loop, so no two threads touch one kind's entry."""

    def __init__(self, owner: str, seconds: float) -> None:
        self.owner, self.seconds = owner, seconds
        self.seen: dict[str, Lease] = {}

    def ours(self, store: LeaseStore, work: str) -> bool:
        """Whether this controller may do a round of the work now; asks the store only when the answer may have
        changed: another's lease ended, or less than half of this controller's own is left."""
        seen = self.seen.get(work)
        if seen is not None:
            if seen.held_by(self.owner):
                # a round that starts with half a lease left ends within it unless it is very slow (then another
                # controller may meet it, which changes nothing twice: docs/shared-store.md)
                if now(self.seconds / 2) < seen.expires_at:
                    return True
            elif now() < seen.expires_at:  # both times by this controller's clock, as the store's condition is
                return False  # the store would refuse it until then
        lease = store.take_lease(work, self.owner, self.seconds)
        self.seen[work] = lease
        return lease.held_by(self.owner)

    def give_back(self, store: LeaseStore, works: Iterable[str]) -> None:
        """Give back whichever of these leases this controller holds, so that another may take them at once."""
        for work in works:
            seen = self.seen.pop(work, None)
            if seen is not None and seen.held_by(self.owner):
                store.drop_lease(work, self.owner)
