"""What the JSON API and the page both show, read the same way for both: the requests after a
refresh from AWS, and executions' statuses, with AWS being unreachable turned into warnings."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import current_app

from controller.approval import executions, inbox
from controller.core.errors import AwsUnavailable, StoreUnavailable
from controller.service import aws
from controller.storage import store
from controller.storage.db import get_db
from controller.storage.interface import Store
from controller.storage.sqlite import SqliteBackend
from controller.web.finding import Finding

RECENT_SHOWN = 10


def refresh() -> list[str]:
    """Bring the stored requests up to date with AWS; return warnings for the reader when that failed."""
    dead_letters: inbox.DeadLetters = current_app.extensions["dead_letters"]
    warnings = []
    try:
        with aws.slot():
            inbox.refresh(get_db(), aws.clients_of(current_app), current_app.config, dead_letters)
    except AwsUnavailable as error:
        warnings.append(f"Showing stored requests only; AWS could not be reached: {error.message}")
    except StoreUnavailable:
        pass  # said below, from the store's health, whichever thread met the failure
    failure = store.failure(get_db())
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


def dead_letters() -> dict[str, Any] | None:
    """Return what the last look at the dead-letter queue found; None when there is none to look at."""
    if not current_app.config.get("DEAD_LETTER_QUEUE_URL"):
        return None
    seen: inbox.DeadLetters = current_app.extensions["dead_letters"]
    return seen.shown()


def execution_status(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """Return the request's execution status; status None and a warning when AWS could not be asked."""
    try:
        with aws.slot():
            return executions.status_of(db, aws.client("stepfunctions"), row)
    except AwsUnavailable as error:
        return {"status": None, "error": None, "cause": None, "warning": error.message}


def recent_outcomes(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the latest ended requests as shown publicly, each with its execution's status."""
    return [
        {**store.public(row), "execution": execution_status(db, row)} for row in store.recent_ended(db, RECENT_SHOWN)
    ]


def open_store() -> Store:
    """Return a store of the app's database for one view; the caller closes it."""
    return SqliteBackend(current_app.config["DATABASE"]).open()


def find_pending(db: sqlite3.Connection, found: Finding) -> tuple[list[sqlite3.Row], int]:
    """Return one page of the pending requests the URL asks for, and how many match in all.

    As rows, which the approval rules still read (quorum.shown), until the callers move to the store's records.
    """
    opened = open_store()
    try:
        page, matched = opened.find_requests(found.query, found.per, found.offset), opened.count_requests(found.query)
    finally:
        opened.close()
    rows = [store.get(db, request.id) for request in page]
    return [row for row in rows if row is not None], matched
