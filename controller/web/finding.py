"""The URL parameters that find requests, read the same way by the page, the JSON API and the history:
all in the query string, so that a filtered view can be shared and works without JavaScript.

q (order id, customer, SKU), sort, page and per; for the pending list min_total, max_total and currency;
for the history outcome, approver, customer, from and to (dates, both included).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask import request

from controller.core import states
from controller.core.errors import InvalidInput
from controller.storage.records import RequestQuery, Sort

PENDING_SORTS: tuple[Sort, ...] = ("waiting", "newest", "expiry", "total")
HISTORY_SORTS: tuple[Sort, ...] = ("ended", "newest", "waiting", "total")
MAX_TEXT = 100
MAX_PAGE_NUMBER = 1_000_000
NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # an amount as people type it: 250 or 99.50
CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Finding:
    """A query, and which page of its matches to show."""

    query: RequestQuery
    page: int
    per: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per

    def pages(self, matched: int) -> int:
        """Return how many pages the matches fill (1 when there are none)."""
        return max(1, math.ceil(matched / self.per))


def _text(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"'{name}' must be at most {MAX_TEXT} characters.")
    return value or None


def _matching(name: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = request.args.get(name, "").strip()
    if value and not pattern.fullmatch(value):
        raise InvalidInput(f"'{name}' must be {what}.")
    return value or None


def _amount(name: str) -> float | None:
    value = _matching(name, NUMBER, "an amount such as 250 or 99.50")
    return float(value) if value is not None else None


def _date(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a date, YYYY-MM-DD.") from None


def _whole(name: str, default: int, highest: int) -> int:
    """Return a whole number from 1 to highest: ASCII digits only, no longer than highest's (int() takes "²")."""
    if name not in request.args:
        return default
    value = request.args[name]
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(highest)) and 1 <= int(value) <= highest):
        raise InvalidInput(f"'{name}' must be a whole number from 1 to {highest}.")
    return int(value)


def _sort(allowed: tuple[Sort, ...]) -> Sort:
    value = request.args.get("sort", "") or allowed[0]
    for sort in allowed:
        if value == sort:
            return sort
    raise InvalidInput(f"'sort' must be one of {', '.join(allowed)}.")


def _paged(query: RequestQuery, per: int, max_per: int, size: str = "per") -> Finding:
    return Finding(query, _whole("page", 1, MAX_PAGE_NUMBER), _whole(size, per, max_per))


def pending(per: int, max_per: int, size: str = "per") -> Finding:
    """Return the pending list's query from the URL; InvalidInput for a parameter out of shape."""
    query = RequestQuery(
        states=(states.PENDING,),
        text=_text("q"),
        min_total=_amount("min_total"),
        max_total=_amount("max_total"),
        currency=_matching("currency", CURRENCY, "a three-letter currency code such as EUR"),
        sort=_sort(PENDING_SORTS),
    )
    return _paged(query, per, max_per, size)


def history(per: int, max_per: int) -> Finding:
    """Return the history's query from the URL; InvalidInput for a parameter out of shape."""
    outcome = request.args.get("outcome", "")
    if outcome and outcome not in states.ENDED:
        raise InvalidInput(f"'outcome' must be one of {', '.join(states.ENDED)}, or empty for all.")
    start, end = _date("from"), _date("to")
    query = RequestQuery(
        states=(outcome,) if outcome else states.ENDED,
        text=_text("q"),
        customer=_text("customer"),
        approver=_text("approver"),
        requested_from=start.isoformat() if start else None,
        requested_before=(end + timedelta(days=1)).isoformat() if end else None,
        sort=_sort(HISTORY_SORTS),
    )
    return _paged(query, per, max_per)


def filtered(query: RequestQuery) -> bool:
    """Return whether the query narrows the pending list (a sort or a page alone does not)."""
    return any(value is not None for value in (query.text, query.min_total, query.max_total, query.currency))


def page_args(page: int) -> dict[str, str | int]:
    """Return this request's URL parameters with another page number, for paging links."""
    return {**request.args.to_dict(), "page": page}
