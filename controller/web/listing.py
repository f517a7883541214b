"""What the JSON API and the page both show, read the same way for both: the requests after catching
up with AWS, and executions' statuses, with AWS being unreachable turned into warnings."""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app

from controller.approval import executions, inbox
from controller.core.errors import AwsUnavailable, StoreUnavailable
from controller.service import aws
from controller.storage.context import backend_of, get_store
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest
from controller.web.finding import Finding

RECENT_SHOWN = 10


def refresh_warnings() -> list[str]:
    """Catch the stored requests up with AWS; return the warnings a reader sees when that failed."""
    clients, store = aws.clients_of(current_app), get_store()
    dead_letters: inbox.DeadLetters = current_app.extensions["dead_letters"]
    warnings = []
    try:
        with aws.slot():
            inbox.catch_up(store, clients["sqs"], clients["stepfunctions"], current_app.config, dead_letters)
    except AwsUnavailable as error:
        warnings.append(f"Showing stored requests only; AWS could not be reached: {error.message}")
    except StoreUnavailable:
        pass  # said below, from the store's health, whichever thread met the failure
    failure = store.failure()
    if failure:
        warnings.append(
            f"The store is failing ({failure}): decisions are refused, and new requests wait on the queue"
            " until it can be written again; this page shows what was stored before."
        )
    if dead_letters.count:
        warnings.append(
            f"{dead_letters.count} message(s) on the dead-letter queue are not approval requests;"
            " they are left there for you to look at."
        )
    return warnings


def dead_letters() -> dict[str, int | str | None] | None:
    """Return what the last look at the dead-letter queue found; None when there is none to look at."""
    if not current_app.config.get("DEAD_LETTER_QUEUE_URL"):
        return None
    seen: inbox.DeadLetters = current_app.extensions["dead_letters"]
    return seen.shown()


def execution_status(store: Store, request: ApprovalRequest) -> dict[str, str | None]:
    """Return the request's execution status; status None and a warning when AWS could not be asked."""
    try:
        with aws.slot():
            return asdict(executions.status_of(store, aws.stepfunctions(), request))
    except AwsUnavailable as error:
        return {"status": None, "error": None, "cause": None, "warning": error.message}


def recent_outcomes(store: Store) -> list[dict[str, object]]:
    """Return the latest ended requests as shown publicly, each with its execution's status."""
    return [
        {**request.public(), "execution": execution_status(store, request)}
        for request in store.recent_ended(RECENT_SHOWN)
    ]


def open_store() -> Store:
    """Return a store of the app's backend for one view; the caller closes it."""
    return backend_of(current_app).open()


def find_pending(store: Store, found: Finding) -> tuple[list[ApprovalRequest], int]:
    """Return one page of the pending requests the URL asks for, and how many match in all."""
    return store.find_requests(found.query, found.per, found.offset), store.count_requests(found.query)
