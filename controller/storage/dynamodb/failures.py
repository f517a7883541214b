"""The approvals table out of reach: every call that fails for it, not for its data, becomes StoreUnavailable.

botocore's own errors (a refused or hung endpoint, no credentials) and DynamoDB's answers that say the table
cannot be used (missing, not permitted, throttled past the retries, failing) are turned into StoreUnavailable
where the client raises them, so every caller gets the 503 and the background's wait-and-retry that a failing
SQLite disk gets, and /health says why. A failed condition or a cancelled transaction is the store's own
business and passes through unchanged.

Once a failure is noted, no call is sent until the store's probe (`trying_again`) writes the table again: a
table that hangs would otherwise hold every request thread for the client's attempts times its timeouts, and
the controller would stop answering anything, its sign-in and /health included.
"""

from __future__ import annotations

import logging
import threading
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
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "InternalServerError",
        "ServiceUnavailable",
    }
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
    """Turn the client's failures to reach the table into StoreUnavailable, noted in health, and send no call
    while one is noted, but the probe's."""

    def before_sending(**_: object) -> None:
        if health.failure is not None and not getattr(_probing, "active", False):
            raise StoreUnavailable(
                f"The approvals table {table} cannot be used: {health.failure}. Nothing was sent or changed; the"
                " controller tries the table again every few seconds. Try again shortly.",
                reason=health.failure,
            )

    def on_exception(exception: Exception, **_: object) -> None:
        if isinstance(exception, BotoCoreError):  # the connection, the credentials: not a bug of the caller's
            raise unavailable(table, health, f"{type(exception).__name__}: {exception}") from exception

    def on_answer(http_response: _Answer, parsed: Mapping[str, object], **_: object) -> None:
        error = parsed.get("Error")
        said = error if isinstance(error, dict) else {}
        code, message = str(said.get("Code", "")), str(said.get("Message", ""))
        if http_response.status_code >= 500 or code in UNREACHABLE:
            raise unavailable(table, health, f"{code or http_response.status_code}: {message}")

    events = dynamodb.meta.events  # last: the metrics' hooks count the call first
    events.register_first("before-parameter-build", before_sending)
    events.register_last("after-call-error", on_exception)
    events.register_last("after-call", on_answer)
