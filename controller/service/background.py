"""The work a serving controller does in the background, so that no request waits for it:

- a single long poll of the approval queue at a time, storing each message before deleting it;
- upkeep: liveness checks of pending requests (in parallel, bounded), decisions a lost answer
  left claimed, expiry, reminders and escalations that are due, and the trimming of the event log;
- webhook notifications of new requests, when configured;
- a look at the dead-letter queue now and then, storing any approval request found there;
- a write to the store every few seconds, so that a store that cannot be written stops the pull
  before it receives anything (the pull then writes again before each receive, until one works).

Each loop has its own store (an SQLite connection), closed when the loop ends, and uses the
app's boto3 clients (thread-safe), so a fault injected into a client or a crash inside one shows
as it would in a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

from flask import Flask

from controller.approval import decisions, executions, follow_ups, inbox, notify
from controller.core.errors import AwsUnavailable, StoreUnavailable
from controller.core.metrics import Metrics
from controller.service.aws import clients_of
from controller.storage.context import backend_of
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest

log = logging.getLogger(__name__)
UPKEEP_SECONDS = 1.0
NOTIFY_SECONDS = 0.5
RETRY_CAP_SECONDS = 30.0
LIVENESS_BATCH = 50
STORE_PROBE_SECONDS = 5.0
STORE_RETRY_CAP_SECONDS = 5.0


class Background:
    """Threads that keep the store in line with AWS while the server runs."""

    def __init__(self, app: Flask) -> None:
        self.config = app.config
        self.clients = clients_of(app)
        self.backend = backend_of(app)
        self.metrics: Metrics = app.extensions["metrics"]
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.liveness_pool = ThreadPoolExecutor(app.config["LIVENESS_PARALLEL"], thread_name_prefix="liveness")
        self.dead_letters: inbox.DeadLetters = app.extensions["dead_letters"]
        self.next_probe = 0.0

    def start(self) -> None:
        # a long poll paces itself; without one, a short pause keeps the loop from spinning
        pull_pause = 0.0 if self.config["PULL_WAIT_SECONDS"] else 0.1
        loops: list[tuple[str, Callable[[Store], None], float]] = [("pull", self._pull_once, pull_pause)]
        loops.append(("upkeep", self._upkeep_once, UPKEEP_SECONDS))
        if self.config["NOTIFY_WEBHOOK_URL"]:
            loops.append(("notify", self._notify_once, NOTIFY_SECONDS))
        for name, step, pause in loops:
            thread = threading.Thread(
                target=self._run, args=(name, step, pause), name=f"controller-{name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Ask every loop to end after its current step (a long poll ends within PULL_WAIT_SECONDS).

        Each loop closes its store as it ends; a liveness check closes its own when it is done.
        """
        self.stopped.set()
        self.liveness_pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, name: str, step: Callable[[Store], None], pause: float) -> None:
        """Repeat step until stopped; when AWS or the store fails, wait longer each time, up to 30 s.

        A store that fails is tried again within STORE_RETRY_CAP_SECONDS: trying costs one local write,
        and everything resumes that much sooner once it recovers. Its failure is logged where it is met.
        """
        retry = 0.0
        with closing(self.backend.open()) as store:
            while not self.stopped.is_set():
                try:
                    step(store)
                    self.metrics.loop_succeeded(name)
                    retry = 0.0
                except StoreUnavailable:
                    retry = min(max(1.0, retry * 2), STORE_RETRY_CAP_SECONDS)
                except AwsUnavailable as error:
                    retry = min(max(1.0, retry * 2), RETRY_CAP_SECONDS)
                    log.warning("background %s: %s; trying again in %.0f s", name, error.message, retry)
                except Exception:  # a bug must not silently end the loop that keeps requests flowing
                    retry = min(max(1.0, retry * 2), RETRY_CAP_SECONDS)
                    log.exception("background %s failed; trying again in %.0f s", name, retry)
                self.stopped.wait(pause + retry)

    def _pull_once(self, store: Store) -> None:
        inbox.pull_configured(store, self.clients["sqs_long_poll"], self.config, self.config["PULL_WAIT_SECONDS"])
        inbox.check_dead_letters(store, self.clients["sqs"], self.config, self.dead_letters)

    def _settle(self, request: ApprovalRequest) -> bool:
        """Check one request's execution; False when AWS could not say (it is checked again later)."""
        try:
            with closing(self.backend.open()) as store:
                executions.settle_pending(store, self.clients["stepfunctions"], request)
        except AwsUnavailable as error:
            log.warning("liveness check of %s: %s", request.id, error.message)
            return False
        return True

    def _upkeep_once(self, store: Store) -> None:
        """Each part on its own: a request AWS cannot answer for must not hold up the others or the rest."""
        if time.monotonic() >= self.next_probe:
            self.next_probe = time.monotonic() + STORE_PROBE_SECONDS
            store.probe()
        stale = store.stale(self.config["LIVENESS_CHECK_SECONDS"], LIVENESS_BATCH)
        checked = list(self.liveness_pool.map(self._settle, stale))
        decisions.resume_claims(store, self.clients["stepfunctions"], self.config["CLAIM_STALE_SECONDS"])
        store.expire_overdue()
        follow_ups.take_due(store, notify=bool(self.config["NOTIFY_WEBHOOK_URL"]))  # after expiry: none for ended ones
        store.forget_events(inbox.EVENTS_KEPT)
        if stale and not any(checked):
            raise AwsUnavailable("no liveness check got an answer")  # back off, as for the other loops

    def _notify_once(self, store: Store) -> None:
        notify.send_due(store, self.config["NOTIFY_WEBHOOK_URL"], page_url(self.config))


def page_url(config: Mapping[str, Any]) -> str:
    """Return the approver page's address for links: PUBLIC_URL, else the address the server binds."""
    if config["PUBLIC_URL"]:
        return str(config["PUBLIC_URL"])
    return f"http://{config['HOST']}:{config['PORT']}/"
