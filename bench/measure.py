"""What the benchmark measures with: controllers with counted AWS calls, keep-alive HTTP, percentiles."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import quantiles
from typing import Any

import requests

from controller.service.aws import clients_of
from controller.storage.context import backend_of
from controller.storage.dynamodb import DynamoDbBackend
from harness.controllers import served_controller

HTTP_TIMEOUT_SECONDS = 30


def percentile_ms(seconds: list[float], percent: int) -> float:
    """Return the given percentile of durations in seconds, in milliseconds."""
    if len(seconds) < 2:
        return round(seconds[0] * 1000, 2) if seconds else float("nan")
    return round(quantiles(seconds, n=100, method="inclusive")[percent - 1] * 1000, 2)


def in_background(target: Callable[..., Any], *args: Any) -> Future:
    """Run target in a daemon thread, so Ctrl-C never waits for it; its result or error lands in the future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(target(*args))
        except BaseException as error:  # handed to whoever waits on the future
            future.set_exception(error)

    threading.Thread(target=run, daemon=True).start()
    return future


_sessions = threading.local()


def http() -> requests.Session:
    """Return this thread's keep-alive HTTP session, so connection set-up is not what gets measured."""
    if not hasattr(_sessions, "session"):
        _sessions.session = requests.Session()
    return _sessions.session


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    """Send one request and return its JSON; a status other than 200 stops the run (no silent errors)."""
    response = http().request(method, url, json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)
    if response.status_code != 200:
        raise RuntimeError(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
    return response.json()


class AwsCallCounter:
    """Counts the controller's AWS requests per operation, and the time spent in them, through botocore's hooks."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.sends: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        for client in clients.values():
            client.meta.events.register("before-call", self._on_call)
            client.meta.events.register("before-send", self._on_send)
            client.meta.events.register("after-call", self._on_answer)

    def _on_call(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()  # the call's own context: safe across threads
        with self._lock:
            self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def _on_answer(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            # a call already under way when the counter was attached has no start: it is not timed
            started = context.get("bench_started")
            if started is not None:
                self.seconds[event_name.rsplit(".", 1)[-1]] += time.perf_counter() - started

    def _on_send(self, event_name: str, **_: Any) -> None:
        # must return None: a before-send handler's return value would replace the HTTP response
        with self._lock:
            self.sends[event_name.rsplit(".", 1)[-1]] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.sends.clear()
            self.seconds.clear()

    def retries(self) -> int:
        """Return HTTP requests beyond one per API call: botocore's retries."""
        return sum(self.sends.values()) - sum(self.calls.values())


@dataclass
class Controller:
    """A controller app served over real HTTP in this process, with its AWS requests counted: SQS and Step
    Functions in counter, the shared table's in table (None on SQLite)."""

    url: str
    counter: AwsCallCounter
    table: AwsCallCounter | None = None


@contextmanager
def controller(config: dict[str, Any]) -> Iterator[Controller]:
    """Serve a controller (as the tests do) until the block ends, with its AWS requests counted."""
    with served_controller(config) as served:
        backend = backend_of(served.app)
        table = AwsCallCounter({"dynamodb": backend.dynamodb}) if isinstance(backend, DynamoDbBackend) else None
        yield Controller(served.url, AwsCallCounter(clients_of(served.app)), table)
