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

On a store that several controllers share, each round of a kind of work (LEASED_WORK: liveness
checks, stale claims, the rest of the upkeep, notifications) runs only on the controller that holds
that kind's lease, so that one controller at a time does it; each notification is claimed on its own
as well (notify.send_due). The holder keeps its lease across rounds (turns.Turns) and gives it back
when a round fails or its loop stops; a controller that dies leaves it to end on its own
(WORK_LEASE_SECONDS).

The upkeep runs each part at the pace it needs (Cadence), not all of them every round: on a shared
table every read is a request.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any, TypeVar

from flask import Flask

from controller.approval import decisions, executions, follow_ups, inbox, notify
from controller.core.errors import AwsUnavailable, StoreUnavailable
from controller.core.metrics import Metrics
from controller.service.aws import clients_of
from controller.service.turns import Turns
from controller.storage.context import backend_of
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
UPKEEP_SECONDS = 1.0
NOTIFY_SECONDS = 0.5
RETRY_CAP_SECONDS = 30.0
LIVENESS_BATCH = 50
STORE_PROBE_SECONDS = 5.0
STORE_RETRY_CAP_SECONDS = 5.0
# the kinds of work of each loop, each leased on its own so that a slow one holds up none of the others
LEASED_WORK = {"upkeep": ("liveness", "claims", "upkeep"), "notify": ("notify",)}
# A liveness check or a stale claim is due only after its interval (LIVENESS_CHECK_SECONDS, CLAIM_STALE_SECONDS,
# 300 s by default), so looking every tenth of it (between one round and 30 s) finds each at most a tenth late.
SHARE_OF_INTERVAL, LOOK_CAP_SECONDS = 0.1, 30.0
# Expiry, reminders and escalations, at most 2 s late: their times are set in seconds or more, a decision past its
# request's timeout is refused on the spot and /pending expires what it lists, so the upkeep's expiry only updates
# the lists and the events of open pages; every 2 s rather than every round halves what an idle holder reads.
KEEP_UP_SECONDS = 2.0
# Trimming the event log to EVENTS_KEPT may wait: it then holds a minute's events more for a while (a /events page
# further behind reloads its lists anyway), and on the table each trim costs 3 requests or more.
TRIM_EVENTS_SECONDS = 60.0


class Cadence:
    """When a part of the upkeep is next due, on the monotonic clock: at once, then every `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.next = seconds, 0.0

    def due(self) -> bool:
        """Whether it is due now; if so, the next time is `seconds` on."""
        if time.monotonic() < self.next:
            return False
        self.next = time.monotonic() + self.seconds
        return True

    def again(self) -> None:
        """Make it due at the next round (more of it is waiting)."""
        self.next = 0.0


def looking_every(interval: float) -> Cadence:
    """How often to look for what is due once an interval has passed: a tenth of it, between one round and 30 s."""
    return Cadence(min(max(interval * SHARE_OF_INTERVAL, UPKEEP_SECONDS), LOOK_CAP_SECONDS))


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
        self.owner = f"controller-{secrets.token_hex(8)}"  # this controller, as the owner of its leases
        self.turns = Turns(self.owner, app.config["WORK_LEASE_SECONDS"])
        self.probing = Cadence(STORE_PROBE_SECONDS)
        self.keeping = Cadence(KEEP_UP_SECONDS)
        self.checking = looking_every(app.config["LIVENESS_CHECK_SECONDS"])
        self.resuming = looking_every(app.config["CLAIM_STALE_SECONDS"])
        self.trimming = Cadence(TRIM_EVENTS_SECONDS)

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

        Each loop gives back the leases it holds and closes its store as it ends (not here: its round may still
        be running); a liveness check closes its own when it is done.
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
            self._give_back(store, LEASED_WORK.get(name, ()))

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

    def _in_turn(self, store: Store, work: str, step: Callable[[], T]) -> T | None:
        """Run one round of a kind of work and return what it returns, unless another controller of a shared store
        holds its lease (None). A round that fails gives the lease back: a controller that was not refused it may
        then take the work at once; one that was waits for the lease's end it was told."""
        if not self.backend.shared:
            return step()  # the only controller of its store: a lease would cost a write and always be granted
        if not self.turns.ours(store, work):
            return None
        try:
            return step()
        except Exception:
            self.turns.give_back(store, [work])
            raise

    def _give_back(self, store: Store, works: tuple[str, ...]) -> None:
        """Give back a stopping loop's leases; one that cannot be given back ends on its own."""
        try:
            self.turns.give_back(store, works)
        except StoreUnavailable:
            log.warning("could not give back the leases on %s; they end on their own", ", ".join(works))

    def _upkeep_once(self, store: Store) -> None:
        """Each part on its own: a request AWS cannot answer for must not hold up the others or the rest."""
        if self.probing.due():
            store.probe()  # each controller's own: whether it can write the store
        unanswered = self.checking.due() and self._in_turn(store, "liveness", lambda: self._check_liveness(store))
        if self.resuming.due():
            sfn, stale_after = self.clients["stepfunctions"], self.config["CLAIM_STALE_SECONDS"]
            self._in_turn(store, "claims", lambda: decisions.resume_claims(store, sfn, stale_after))
        if self.keeping.due():
            self._in_turn(store, "upkeep", lambda: self._keep_up(store))
        if unanswered:
            self.turns.give_back(store, ["liveness"])  # as a failed round does
            raise AwsUnavailable("no liveness check got an answer")  # back off, as for the other loops

    def _check_liveness(self, store: Store) -> bool:
        """Check the executions of the requests least recently looked at; True if there were some and AWS answered
        for none of them. A full batch leaves more due: the next round looks again rather than a tenth later."""
        stale = store.stale(self.config["LIVENESS_CHECK_SECONDS"], LIVENESS_BATCH)
        if len(stale) == LIVENESS_BATCH:
            self.checking.again()
        checked = list(self.liveness_pool.map(self._settle, stale))
        return bool(stale) and not any(checked)

    def _keep_up(self, store: Store) -> None:
        store.expire_overdue()
        follow_ups.take_due(store, notify=bool(self.config["NOTIFY_WEBHOOK_URL"]))  # after expiry: none for ended ones
        if self.trimming.due():
            store.forget_events(inbox.EVENTS_KEPT)

    def _notify_once(self, store: Store) -> None:
        self._in_turn(
            store, "notify", lambda: notify.send_due(store, self.config["NOTIFY_WEBHOOK_URL"], page_url(self.config))
        )


def page_url(config: Mapping[str, Any]) -> str:
    """Return the approver page's address for links: PUBLIC_URL, else the address the server binds."""
    if config["PUBLIC_URL"]:
        return str(config["PUBLIC_URL"])
    return f"http://{config['HOST']}:{config['PORT']}/"
