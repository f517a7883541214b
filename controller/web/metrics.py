"""GET /metrics: the Prometheus text format, from the official client library.

Two kinds of series (docs/operations.md lists them):
- the shared state, read from the store at each scrape (pending requests, decisions, notifications):
  every controller of one store reports the same values, so aggregate them with max, not sum;
- this process's own work (AWS calls, refused attempts, open streams, background loops), counted as it
  happens: sum them across controllers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from controller.access import auth
from controller.core.errors import NotAllowed
from controller.core.metrics import Metrics
from controller.storage.context import backend_of
from controller.storage.interface import Backend
from controller.storage.records import PendingSummary

bp = Blueprint("metrics", __name__)
# from a quick look to a working day and more: approval waits are long
DECISION_SECONDS_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0)


def _seconds_since(timestamp: str) -> float:
    return (datetime.now(timezone.utc) - datetime.fromisoformat(timestamp)).total_seconds()


def _by_rule(by_rule: dict[str | None, PendingSummary]) -> Iterator[Metric]:
    """The pending series per approval rule, so that an alert can single out the rules that need people most.
    Requests stored without a rule (no policy file) are only in the totals: any label for them could be a
    rule's name."""
    waiting = GaugeMetricFamily(
        "controller_pending_requests_by_rule", "Requests waiting for a decision, by approval rule.", labels=["rule"]
    )
    oldest = GaugeMetricFamily(
        "controller_pending_oldest_age_by_rule_seconds",
        "How long the oldest pending request of each approval rule has waited since it was requested.",
        labels=["rule"],
    )
    for name, summary in sorted((name, summary) for name, summary in by_rule.items() if name is not None):
        waiting.add_metric([name], summary.count)
        oldest.add_metric([name], _seconds_since(summary.oldest_requested_at) if summary.oldest_requested_at else 0.0)
    yield waiting
    yield oldest


class StoreCollector(Collector):
    """The shared state, read from the store when Prometheus scrapes."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        store = self.backend.open()
        try:
            pending, ended = store.pending_summary(), store.ended_counts()
            by_rule = store.pending_by_rule()
            times, sent = store.decision_times(DECISION_SECONDS_BUCKETS), store.notification_counts()
        finally:
            store.close()
        yield GaugeMetricFamily("controller_pending_requests", "Requests waiting for a decision.", value=pending.count)
        oldest, soonest = pending.oldest_requested_at, pending.soonest_expires_at
        yield GaugeMetricFamily(
            "controller_pending_oldest_age_seconds",
            "How long the oldest pending request has waited since it was requested (0 when none waits).",
            value=_seconds_since(oldest) if oldest else 0.0,
        )
        if soonest:
            yield GaugeMetricFamily(
                "controller_pending_next_expiry_seconds",
                "Time left until the first pending request's approval timeout (absent when none waits).",
                value=-_seconds_since(soonest),
            )
        yield from _by_rule(by_rule)
        decisions = CounterMetricFamily(
            "controller_decisions",
            "Requests that ended, by outcome: approved, rejected, expired, closed.",
            labels=["outcome"],
        )
        for state, n in ended.items():
            decisions.add_metric([state], n)
        yield decisions
        yield HistogramMetricFamily(
            "controller_time_to_decision_seconds",
            "Time from a request being stored to its approval or rejection.",
            buckets=[
                *((repr(b), float(n)) for b, n in zip(times.bounds, times.at_most, strict=True)),
                ("+Inf", times.count),
            ],
            sum_value=times.total_seconds,
        )
        notifications = GaugeMetricFamily(
            "controller_notifications", "Webhook notifications: delivered, waiting, failed.", labels=["status"]
        )
        for status in ("delivered", "waiting", "failed"):
            notifications.add_metric([status], getattr(sent, status))
        yield notifications


def _allowed() -> None:
    """Let a scraper in: from this machine in local mode; signed in, identify() already checked a token."""
    if g.get("metrics_token") or g.get("user") is not None:
        return
    if not g.get("sign_in") and auth.is_loopback(request.remote_addr or ""):
        return
    raise NotAllowed("Metrics are served to this machine only in local mode; sign-in needs a token.")


@bp.get("/metrics")
def scrape() -> Response:
    """Return every series in the Prometheus text format (or OpenMetrics, if the scraper asks for it)."""
    _allowed()
    metrics: Metrics = current_app.extensions["metrics"]
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))  # OpenMetrics when asked for
    return Response(encode(metrics.registry), content_type=content_type)


def init_app(app: Flask) -> None:
    """Serve /metrics, with the store's series on the app's registry."""
    app.extensions["metrics"].registry.register(StoreCollector(backend_of(app)))
    app.register_blueprint(bp)
