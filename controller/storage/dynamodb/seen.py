"""Pending requests as this process last read or stored them, for a decision to start from.

An approver looks at the list, then decides: the list has just read each request whole, so reading it again
before the claim costs a request per decision and tells nothing new. A record kept here may be out of date
(another controller decided it, the upkeep expired it); that is safe because what a decision takes from it
either never changes once stored (the task token, the order, its digest, the rule, the timeout) or is
checked again by the claim's condition (the state). A claim that finds the request moved on reads it then.
Its check time may be older than the table's (the upkeep touched it since); no claim writes it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from controller.core import states
from controller.storage.records import ApprovalRequest

KEPT_SECONDS = 120.0  # about as long as an approver looks at a list before deciding
MOST_CHARACTERS = 8_000_000  # of the orders kept: a list of large orders keeps only its newest


class SeenRequests:
    """Records of pending requests by id, oldest first, dropped when taken, when too old, or for room."""

    def __init__(self, seconds: float = KEPT_SECONDS, most_characters: int = MOST_CHARACTERS) -> None:
        self.seconds, self.most_characters = seconds, most_characters
        self.kept: OrderedDict[str, tuple[float, int, ApprovalRequest]] = OrderedDict()
        self.characters = 0
        self.lock = threading.Lock()

    def keep(self, seen: Iterable[tuple[ApprovalRequest, int]]) -> None:
        """Keep the pending ones of these requests, each read with an order of so many characters; forget the
        others, read since they were kept."""
        at = time.monotonic()
        with self.lock:
            for request, characters in seen:
                self._drop(request.id)
                if request.state != states.PENDING or characters > self.most_characters:
                    continue
                self.kept[request.id] = (at, characters, request)
                self.characters += characters
            while self.characters > self.most_characters or (self.kept and self._too_old(at)):
                self._drop(next(iter(self.kept)))

    def take(self, request_id: str) -> ApprovalRequest | None:
        """Return the request as last seen moments ago and forget it (a decision changes it), else None."""
        with self.lock:
            found = self.kept.get(request_id)
            self._drop(request_id)
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        return found[2]

    def _too_old(self, at: float) -> bool:
        oldest, _, _ = next(iter(self.kept.values()))
        return at - oldest > self.seconds

    def _drop(self, request_id: str) -> None:
        found = self.kept.pop(request_id, None)
        if found is not None:
            self.characters -= found[1]
