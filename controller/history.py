"""Recently closed approval requests, with their executions' live status, for the approver's page."""
from __future__ import annotations

import sqlite3
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller import executions, store

CLOSED_STATES = ("approved", "rejected", "expired", "closed")


def recent(db: sqlite3.Connection, limit: int = 10) -> list[sqlite3.Row]:
    """Return the latest closed requests, newest first."""
    return db.execute(
        "SELECT * FROM approval_requests WHERE state IN (?, ?, ?, ?)"
        " ORDER BY COALESCE(decided_at, checked_at) DESC, id LIMIT ?",
        (*CLOSED_STATES, limit),
    ).fetchall()


def live_status(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """Return {status, error, cause} of an execution; status None when AWS cannot be reached."""
    try:
        execution = executions.describe(sfn, execution_arn)
    except (ClientError, BotoCoreError):
        return {"status": None, "error": None, "cause": None}
    if execution is None:
        return {"status": "DOES_NOT_EXIST", "error": None, "cause": None}
    return {"status": execution["status"], "error": execution.get("error"), "cause": execution.get("cause")}


def recent_with_status(db: sqlite3.Connection, sfn: Any, limit: int = 10) -> list[dict[str, Any]]:
    """Return the latest closed requests as shown publicly (no task token), each with its execution."""
    return [{**store.public(row), "execution": live_status(sfn, row["execution_arn"])} for row in recent(db, limit)]
