"""The approvals table out of reach: every call that fails for it, not for its data, becomes StoreUnavailable.

botocore's own errors (a refused or hung endpoint, no credentials) and DynamoDB's answers that say the table
cannot be used (missing, not permitted, throttled past the retries, failing) are turned into StoreUnavailable
where the client raises them, so every caller gets the 503 and the background's wait-and-retry that a failing
SQLite disk gets, and /health says why. A failed condition or a cancelled transaction is the store's own
business and passes through unchanged.

Once a failure is noted, one call at a time, at most one a second, tries the table again, and the others are
refused unsent, until a call or the store's probe (`trying_again`) goes through: a table that hangs would
otherwise hold every request thread for the client's attempts times its timeouts, and the controller would stop
answering anything, its sign-in and /health included.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError

from controller.core.errors import StoreUnavailable
from controller.storage.records import Health, now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger("controller.store")
_probing = threading.local()  # set while this thread's probe tries the table again after a failure
TRIAL = "store_trial"  # marks, in a call's botocore context, the one call trying a failing table again
TRIAL_SPACING_SECONDS = 1.0  # the least time between a failed call and the next call that tries the table


class _Trials:
    """While a failure is noted: which call may try the table again. One at a time, so a hung table holds one
    request thread, not all; not sooner than a moment after the last failure; and a trial that never reported
    back (its thread gone) is given up once it has had the longest time a call can take."""

    def __init__(self, longest_seconds: float) -> None:
        self.lock = threading.Lock()
        self.longest = longest_seconds
        self.started: float | None = None
        self.next = 0.0

    def take(self) -> bool:
        with self.lock:
            moment = time.monotonic()
            busy = self.started is not None and moment - self.started < self.longest
            if busy or moment < self.next:
                return False
            self.started = moment
            return True

    def ended(self, trial: bool, failed: bool) -> None:
        with self.lock:
            if trial:
                self.started = None
            if failed:
                self.next = time.monotonic() + TRIAL_SPACING_SECONDS


def _longest_call_seconds(dynamodb: DynamoDBClient) -> float:
    config = dynamodb.meta.config
    attempts = int((config.retries or {}).get("total_max_attempts", 3))
    return attempts * (float(config.connect_timeout) + float(config.read_timeout))


class _Answer(Protocol):
    """What is read of botocore's HTTP response."""

    status_code: int


# the codes of DynamoDB answers that are about reaching the table, not about what was asked of it
UNREACHABLE = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# the codes of a table too busy for this call (after botocore's own retries): load, not a table out of reach, so
# the call gets its 503 and nothing else is held back
THROTTLING = frozenset({"ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException"})


def refused(table: str, failure: str) -> StoreUnavailable:
    """Return the error for a call not sent because a failure of the table is noted."""
    return StoreUnavailable(
        f"The approvals table {table} cannot be used: {failure}. Nothing was sent or changed; the controller"
        " tries the table again every second or so. Try again shortly.",
        reason=failure,
    )


def busy(table: str, reason: str) -> StoreUnavailable:
    """Return the error for a call the table was too busy to take: 503, with no failure noted."""
    return StoreUnavailable(
        f"The approvals table {table} is too busy to take this now: {reason}. Nothing was changed; try again shortly.",
        reason=reason,
    )


def unavailable(table: str, health: Health, reason: str) -> StoreUnavailable:
    """Note in health that the table cannot be used, and why; return the error to raise."""
    if health.failure is None:
        health.since = now()
        log.error("the approvals table %s cannot be used: %s", table, reason)
    health.failure = reason
    return StoreUnavailable(
        f"The approvals table {table} cannot be used: {reason}. Nothing was changed; new requests wait on the"
        " queue and are taken once it recovers, by itself. Try again later.",
        reason=reason,
    )


@contextmanager
def trying_again() -> Iterator[None]:
    """Let this thread's calls in the block reach the table although a failure is noted: the probe's write."""
    _probing.active = True
    try:
        yield
    finally:
        _probing.active = False


def watch(dynamodb: DynamoDBClient, table: str, health: Health) -> None:
    """Turn the client's failures to reach the table into StoreUnavailable, noted in health; while one is noted,
    refuse each call unsent unless it is the probe's or the one trying the table again (_Trials)."""
    trials = _Trials(_longest_call_seconds(dynamodb))

    def before_sending(context: dict[str, object], **_: object) -> None:
        if health.failure is None or getattr(_probing, "active", False):
            return
        if trials.take():
            context[TRIAL] = True
            return
        raise refused(table, health.failure)

    def on_exception(exception: Exception, context: dict[str, object], **_: object) -> None:
        unreachable = isinstance(exception, BotoCoreError)  # the connection, the credentials: not the caller's bug
        trials.ended(bool(context.pop(TRIAL, False)), failed=unreachable)
        if unreachable:
            raise unavailable(table, health, f"{type(exception).__name__}: {exception}") from exception

    def on_answer(
        http_response: _Answer, parsed: Mapping[str, object], context: dict[str, object], **_: object
    ) -> None:
        error = parsed.get("Error")
        said = error if isinstance(error, dict) else {}
        code, message = str(said.get("Code", "")), str(said.get("Message", ""))
        unreachable = http_response.status_code >= 500 or code in UNREACHABLE
        trials.ended(bool(context.pop(TRIAL, False)), failed=unreachable)
        if unreachable:
            raise unavailable(table, health, f"{code or http_response.status_code}: {message}")
        if code in THROTTLING:
            raise busy(table, f"{code}: {message}")
        if health.failure is not None:  # the table answered: reached again
            log.warning("the approvals table %s answers again; it failed from %s", table, health.since)
            health.failure = health.since = None

    events = dynamodb.meta.events  # last: the metrics' hooks count the call first
    # just before sending, after botocore checked the parameters: a call refused for them never holds a trial
    events.register_first("before-call", before_sending)
    events.register_last("after-call-error", on_exception)
    events.register_last("after-call", on_answer)
