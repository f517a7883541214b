"""Approval requests for store tests and benchmarks: unique ids, an order, times relative to now."""

from __future__ import annotations

import itertools
from typing import Any

from controller.storage.records import NewRequest, now
from harness.waiting import wait_for

_numbers = itertools.count(1)


def at(seconds_from_now: float) -> str:
    """Return a timestamp in the store's format, this many seconds from now."""
    return now(seconds_from_now)


def tick() -> None:
    """Wait until the store's clock (milliseconds) has moved on, so that what follows is stamped later."""
    start = now()
    wait_for(lambda: now() > start, 1, "the clock to move on by a millisecond")


def new_request(expires_in: float = 3600, **order: Any) -> NewRequest:
    """Return a request as the inbox would make it, with an id of its own."""
    number = next(_numbers)
    return NewRequest(
        id=f"exec-{number:05d}",  # in the order made, as text too
        execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:approvals:exec-{number}",
        task_token=f"token-{number}",
        order={"order_id": f"ORD-{number}", "items": [{"sku": "BOOK-1", "quantity": 2}], **order},
        requested_at=now(-1),
        expires_at=now(expires_in),
    )
