"""Finding requests and their aggregates: the table is keyed for the lists, so the filters and sums run here."""

from __future__ import annotations

from collections.abc import Iterator

from controller.core import states
from controller.storage import fields, matching
from controller.storage.dynamodb.items import ENDED
from controller.storage.dynamodb.requests import Requests
from controller.storage.records import (
    ApprovalRequest,
    DailyOutcomes,
    DecisionTimes,
    PendingSummary,
    RequestQuery,
    request_from,
)


class Queries(Requests):
    """The page's search, filters and sorts, and the insights, over the lists of requests."""

    def _all(self, name: str) -> Iterator[ApprovalRequest] | list[ApprovalRequest]:
        """The requests of a list: the pending ones kept for the decisions that follow, the others one at a time."""
        if name == states.PENDING:
            return self._requests(self._list(name))
        return (request_from(item) for item in self._list(name))

    def _matching(self, query: RequestQuery) -> list[ApprovalRequest]:
        lists = ([states.PENDING] if states.PENDING in query.states else []) + (
            [ENDED] if set(query.states) & set(states.ENDED) else []
        )
        found = [request for name in lists for request in self._all(name)]
        return matching.ordered(found, query)

    def find_requests(self, query: RequestQuery, limit: int, offset: int = 0) -> list[ApprovalRequest]:
        return self._matching(query)[offset : offset + limit]

    def count_requests(self, query: RequestQuery) -> int:
        return len(self._matching(query))

    def iter_requests(self, query: RequestQuery) -> Iterator[ApprovalRequest]:
        yield from self._matching(query)  # sorted in memory: DynamoDB cannot order by an order's fields

    def pending_summary(self) -> PendingSummary:
        return _summary(self.pending())

    def pending_by_rule(self) -> dict[str | None, PendingSummary]:
        by_rule: dict[str | None, list[ApprovalRequest]] = {}
        for request in self.pending():
            name = request.rule.get("name") if request.rule else None
            by_rule.setdefault(name if isinstance(name, str) else None, []).append(request)
        return {name: _summary(waiting) for name, waiting in by_rule.items()}

    def ended_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(states.ENDED, 0)
        for item in self._list(ENDED):
            counts[fields.text(item, "state")] += 1
        return counts

    def decision_times(self, bounds: tuple[float, ...]) -> DecisionTimes:
        took = [
            matching.seconds_to_decision(request)
            for request in self._all(ENDED)
            if request.state in states.DECIDED and request.decided_at
        ]
        return DecisionTimes(
            bounds, tuple(sum(1 for t in took if t <= bound) for bound in bounds), len(took), float(sum(took))
        )

    def decision_quantiles(self, since: str, quantiles: tuple[float, ...]) -> tuple[float | None, ...]:
        took = [
            matching.seconds_to_decision(request)
            for request in self._all(ENDED)
            if request.state in states.DECIDED and request.decided_at and request.decided_at >= since
        ]
        return matching.quantiles(took, quantiles)

    def ended_per_day(self, since: str) -> list[DailyOutcomes]:
        return matching.per_day(self._all(ENDED), since)


def _summary(waiting: list[ApprovalRequest]) -> PendingSummary:
    if not waiting:
        return PendingSummary(0, None, None)
    return PendingSummary(len(waiting), min(r.requested_at for r in waiting), min(r.expires_at for r in waiting))
