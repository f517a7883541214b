"""The stores' clock: every timestamp they write is UTC ISO 8601 to the millisecond, so text order is time order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def now() -> str:
    """Return the current UTC time as ISO 8601, the format every stored timestamp uses."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def ago(seconds: float) -> str:
    """Return the time this many seconds ago (negative: from now), in the same format."""
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def seconds_between(start: str, end: str) -> float:
    """Return how many seconds passed from one stored timestamp to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
