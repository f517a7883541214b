"""A RequestQuery and the insights applied to records in Python, for a store whose database cannot filter
and sort by an order's fields (DynamoDB): the same answers as the SQLite store's SQL, in the contract tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime

from controller.core import states
from controller.core.jsontypes import JSON, JSONObject
from controller.storage.records import ApprovalRequest, DailyOutcomes, RequestQuery


def _contains(value: JSON, part: str) -> bool:
    return isinstance(value, str) and part.casefold() in value.casefold()


def _total(request: ApprovalRequest) -> float | None:
    total = request.order.get("total")
    return float(total) if isinstance(total, (int, float)) and not isinstance(total, bool) else None


def _customer(request: ApprovalRequest) -> JSONObject:
    customer = request.order.get("customer")
    return customer if isinstance(customer, dict) else {}


def _text_matches(request: ApprovalRequest, text: str) -> bool:
    customer = _customer(request)
    listed = request.order.get("items")
    items = listed if isinstance(listed, list) else []
    fields = [request.id, request.order.get("order_id"), customer.get("name"), customer.get("id")]
    skus = [item.get("sku") for item in items if isinstance(item, dict)]
    return any(_contains(field, text) for field in fields + skus)


def matches(request: ApprovalRequest, query: RequestQuery) -> bool:
    """Return whether a request is one the query asks for."""
    customer, total = _customer(request), _total(request)
    checks = [
        request.state in query.states,
        query.text is None or _text_matches(request, query.text),
        query.customer is None or any(_contains(customer.get(k), query.customer) for k in ("name", "id")),
        query.approver is None or bool(request.decision and _contains(request.decision.approver, query.approver)),
        query.requested_from is None or request.requested_at >= query.requested_from,
        query.requested_before is None or request.requested_at < query.requested_before,
        query.min_total is None or (total is not None and total >= query.min_total),
        query.max_total is None or (total is not None and total <= query.max_total),
        query.currency is None or request.order.get("currency") == query.currency,
    ]
    return all(checks)


def ended_at(request: ApprovalRequest) -> str:
    """Return when a request ended: decided, its timeout passed, or (closed) last checked."""
    if request.decided_at:
        return request.decided_at
    return request.expires_at if request.state == states.EXPIRED else request.checked_at


def ordered(requests: Iterable[ApprovalRequest], query: RequestQuery) -> list[ApprovalRequest]:
    """Return the matching requests in the query's order, ties broken by id as the SQLite store does."""
    found = sorted((r for r in requests if matches(r, query)), key=lambda r: r.id)
    if query.sort == "newest":  # SQLite: received_at DESC, id DESC
        return sorted(found, key=lambda r: (r.received_at, r.id), reverse=True)
    keys: dict[str, tuple[Callable[[ApprovalRequest], str | float], bool]] = {
        "waiting": (lambda r: r.received_at, False),
        "expiry": (lambda r: r.expires_at, False),
        "total": (lambda r: _total(r) or -math.inf, True),
        "ended": (ended_at, True),
    }
    key, descending = keys[query.sort]
    return sorted(found, key=key, reverse=descending)  # stable: equal keys keep the id order


def seconds_to_decision(request: ApprovalRequest) -> float:
    """Return how long a decided request took from being stored to its decision."""
    decided = request.decided_at or request.received_at
    return (datetime.fromisoformat(decided) - datetime.fromisoformat(request.received_at)).total_seconds()


def quantiles(took: list[float], wanted: tuple[float, ...]) -> tuple[float | None, ...]:
    """Return each wanted quantile of the times by nearest rank; None for each when there are none."""
    if not took:
        return tuple(None for _ in wanted)
    ranked = sorted(took)
    return tuple(ranked[max(0, math.ceil(q * len(ranked)) - 1)] for q in wanted)


def per_day(requests: Iterable[ApprovalRequest], since: str) -> list[DailyOutcomes]:
    """Return how many of the ended requests ended on each UTC day since then, oldest day first."""
    days: dict[str, dict[str, int]] = {}
    for request in requests:
        if request.state in states.ENDED and ended_at(request) >= since:
            days.setdefault(ended_at(request)[:10], dict.fromkeys(states.ENDED, 0))[request.state] += 1
    return [DailyOutcomes(day, days[day]) for day in sorted(days)]
