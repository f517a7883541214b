"""What the JSON API and the page both show, read the same way for both: the requests after a
refresh from AWS, and executions' statuses, with AWS being unreachable turned into warnings."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import current_app

from controller.approval import executions, inbox
from controller.core.errors import AwsUnavailable
from controller.service import aws
from controller.storage import store
from controller.storage.db import get_db

RECENT_SHOWN = 10


def refresh() -> list[str]:
    """Bring the stored requests up to date with AWS; return warnings for the reader when it is unreachable."""
    try:
        with aws.slot():
            inbox.refresh(get_db(), aws.clients_of(current_app), current_app.config)
    except AwsUnavailable as error:
        return [f"Showing stored requests only; AWS could not be reached: {error.message}"]
    return []


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
