"""Recently closed approval requests, with their executions' live status, for the approver's page."""

from __future__ import annotations

import sqlite3
from typing import Any

from controller import executions, store

CLOSED_STATES = ("approved", "rejected", "expired", "closed")


def recent(db: sqlite3.Connection, limit: int = 10) -> list[sqlite3.Row]:
    """Return the latest closed requests, newest first."""
    return db.execute(
        "SELECT * FROM approval_requests WHERE state IN (?, ?, ?, ?)"
        " ORDER BY COALESCE(decided_at, checked_at) DESC, id LIMIT ?",
        (*CLOSED_STATES, limit),
    ).fetchall()


def recent_with_status(db: sqlite3.Connection, sfn: Any, limit: int = 10) -> list[dict[str, Any]]:
    """Return the latest closed requests as shown publicly (no task token), each with its execution."""
    return [{**store.public(row), "execution": executions.execution_of(db, sfn, row)} for row in recent(db, limit)]
