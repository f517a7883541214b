"""What this controller process counts for Prometheus: its AWS calls, refused attempts, open streams and
background loops. One registry per app, so that several apps in one process (the tests) never mix.

The series that describe the shared state (pending requests, decisions, notifications) are read from the
store at scrape time instead (controller.web.metrics), so every controller of one store reports the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# a long poll of SQS takes up to 20 s; a throttled call with its retries a few
AWS_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 21.0, 30.0)
STARTED = "controller_metrics_started"  # where a call's start time waits in botocore's request context


class _Answer(Protocol):
    """What the metrics read of botocore's HTTP response."""

    status_code: int


class _Events(Protocol):
    """What the metrics use of a boto3 client's event system (client.meta.events, botocore's emitter)."""

    def register(self, event_name: str, handler: Callable[..., None]) -> None: ...


class Metrics:
    """The app's registry and the instruments this process updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.aws_calls = Counter(
            "controller_aws_calls",
            "AWS API calls this controller made (retries included in one call), by outcome: ok, the AWS error"
            " code, or the exception that kept the call from an answer.",
            ["service", "operation", "outcome"],
            registry=self.registry,
        )
        self.aws_seconds = Histogram(
            "controller_aws_call_duration_seconds",
            "How long AWS API calls took, retries included.",
            ["service", "operation"],
            buckets=AWS_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "controller_refused_attempts",
            "Attempts to decide this controller refused, by error code (as in the audit trail).",
            ["code"],
            registry=self.registry,
        )
        self.event_streams = Gauge(
            "controller_event_streams_open", "GET /events streams open now on this controller.", registry=self.registry
        )
        self.loop_success = Gauge(
            "controller_background_last_success_timestamp_seconds",
            "When each background loop (pull, upkeep, notify) last finished a step without error, in Unix time.",
            ["loop"],
            registry=self.registry,
        )

    def watch_aws(self, service: str, events: _Events) -> None:
        """Count and time every call of a boto3 client, from botocore's hooks on its event system."""

        def started(context: dict[str, object], **_: object) -> None:
            context[STARTED] = time.perf_counter()

        def answered(
            event_name: str,
            http_response: _Answer,
            parsed: Mapping[str, object],
            context: dict[str, object],
            **_: object,
        ) -> None:
            error = parsed.get("Error")
            code = error.get("Code") if isinstance(error, dict) else None
            self._count(service, event_name, "ok" if http_response.status_code < 300 else str(code or "error"), context)

        def failed(event_name: str, exception: BaseException, context: dict[str, object], **_: object) -> None:
            self._count(service, event_name, type(exception).__name__, context)

        events.register("before-call", started)
        events.register("after-call", answered)
        events.register("after-call-error", failed)

    def _count(self, service: str, event_name: str, outcome: str, context: dict[str, object]) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.aws_calls.labels(service, operation, outcome).inc()
        started = context.pop(STARTED, None)
        if isinstance(started, float):
            self.aws_seconds.labels(service, operation).observe(time.perf_counter() - started)

    def loop_succeeded(self, loop: str) -> None:
        """Note that a background loop just finished a step."""
        self.loop_success.labels(loop).set(time.time())
