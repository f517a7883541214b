"""Approval requests in SQLite: parse queue messages, save them once, move them through their states."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from controller.db import now

TIMED_OUT = "The approval timeout passed."
DECIDED_STATES = {"approve": "approved", "reject": "rejected"}


class InvalidMessage(ValueError):
    """A queue message that is not an approval request from the state machine."""


def _parse_time(timestamp: str) -> datetime:
    # Step Functions writes "...Z", which datetime.fromisoformat reads only from Python 3.11 on
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_message(body: str) -> dict[str, Any]:
    """Return the row for a Request Approval message; raise InvalidMessage if it is not one."""
    try:
        message = json.loads(body)
        requested_at = _parse_time(message["RequestedAt"])
        row = {
            "id": message["ExecutionName"],
            "execution_arn": message["ExecutionArn"],
            "task_token": message["TaskToken"],
            "order_json": json.dumps(message["Order"]),
            "requested_at": _utc(requested_at),
            "expires_at": _utc(requested_at + timedelta(seconds=int(message["TimeoutSeconds"]))),
        }
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as error:
        raise InvalidMessage(f"not an approval request: {type(error).__name__}") from None
    if not all(isinstance(row[key], str) and row[key] for key in ("id", "execution_arn", "task_token")):
        raise InvalidMessage("not an approval request: empty or non-text identifiers")
    if not isinstance(message["Order"], dict):
        raise InvalidMessage("not an approval request: the order is not an object")
    return row


def save(db: sqlite3.Connection, row: dict[str, Any]) -> bool:
    """Store a request unless it is already stored (SQS may deliver a message twice)."""
    stamp = now()
    cursor = db.execute(
        "INSERT OR IGNORE INTO approval_requests"
        " (id, execution_arn, task_token, order_json, requested_at, expires_at, received_at, checked_at)"
        " VALUES (:id, :execution_arn, :task_token, :order_json, :requested_at, :expires_at, :received_at, :checked_at)",
        {**row, "received_at": stamp, "checked_at": stamp},
    )
    return cursor.rowcount == 1


def set_aside(db: sqlite3.Connection, message_id: str, reason: str, receive_count: int) -> None:
    """Record a queue message that is not an approval request (never its body: it may hold a token)."""
    stamp = now()
    db.execute(
        "INSERT INTO invalid_messages (message_id, reason, receive_count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (message_id) DO UPDATE SET receive_count = excluded.receive_count, last_seen = excluded.last_seen",
        (message_id, reason, receive_count, stamp, stamp),
    )


def invalid_messages(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """Return the latest queue messages that were set aside as not approval requests."""
    rows = db.execute("SELECT * FROM invalid_messages ORDER BY last_seen DESC LIMIT ?", (limit,)).fetchall()
    return [dict(row) for row in rows]


def get(db: sqlite3.Connection, request_id: str) -> sqlite3.Row | None:
    """Return the stored request with this id, or None."""
    return db.execute("SELECT * FROM approval_requests WHERE id = ?", (request_id,)).fetchone()


def expire_overdue(db: sqlite3.Connection) -> None:
    """Mark pending requests whose approval timeout has passed as expired."""
    db.execute(
        "UPDATE approval_requests SET state = 'expired', closed_reason = ? WHERE state = 'pending' AND expires_at <= ?",
        (TIMED_OUT, now()),
    )


def pending(db: sqlite3.Connection, limit: int = -1) -> list[sqlite3.Row]:
    """Return pending requests, oldest first; limit -1 means all."""
    return db.execute(
        "SELECT * FROM approval_requests WHERE state = 'pending' ORDER BY received_at, id LIMIT ?", (limit,)
    ).fetchall()


def count_pending(db: sqlite3.Connection) -> int:
    """Return how many requests wait for a decision."""
    return db.execute("SELECT COUNT(*) FROM approval_requests WHERE state = 'pending'").fetchone()[0]


def stale(db: sqlite3.Connection, older_than_seconds: int, limit: int) -> list[sqlite3.Row]:
    """Return open requests whose execution has not been looked at for a while."""
    cutoff = (datetime.now(timezone.utc) - timedelta(seconds=older_than_seconds)).isoformat(timespec="milliseconds")
    return db.execute(
        "SELECT * FROM approval_requests WHERE state = 'pending' AND checked_at <= ? ORDER BY checked_at LIMIT ?",
        (cutoff, limit),
    ).fetchall()


def touch(db: sqlite3.Connection, request_id: str) -> None:
    """Note that the request's execution was just looked at."""
    db.execute("UPDATE approval_requests SET checked_at = ? WHERE id = ?", (now(), request_id))


def claim(db: sqlite3.Connection, request_id: str, decision: dict[str, Any]) -> bool:
    """Reserve a pending request for one decision; only one caller can win."""
    cursor = db.execute(
        "UPDATE approval_requests SET state = 'deciding', decision = :decision, approver = :approver,"
        " comment = :comment, reason = :reason, claimed_at = :claimed_at WHERE id = :id AND state = 'pending'",
        {**decision, "id": request_id, "claimed_at": now()},
    )
    return cursor.rowcount == 1


def stale_claims(db: sqlite3.Connection, older_than_seconds: float) -> list[sqlite3.Row]:
    """Return requests claimed for a decision longer ago than any AWS call can take."""
    cutoff = (datetime.now(timezone.utc) - timedelta(seconds=older_than_seconds)).isoformat(timespec="milliseconds")
    return db.execute(
        "SELECT * FROM approval_requests WHERE state = 'deciding' AND claimed_at <= ?", (cutoff,)
    ).fetchall()


def release(db: sqlite3.Connection, request_id: str) -> None:
    """Return a claimed request to pending after a call that did not reach Step Functions."""
    db.execute(
        "UPDATE approval_requests SET state = 'pending', decision = NULL, approver = NULL, comment = NULL,"
        " reason = NULL WHERE id = ? AND state = 'deciding'",
        (request_id,),
    )


def finish(db: sqlite3.Connection, request_id: str, state: str, closed_reason: str | None, from_state: str) -> bool:
    """Record the end of a request (approved, rejected, expired, closed) if it is still in from_state."""
    decided_at = now() if state in DECIDED_STATES.values() else None
    cursor = db.execute(
        "UPDATE approval_requests SET state = ?, decided_at = ?, closed_reason = ? WHERE id = ? AND state = ?",
        (state, decided_at, closed_reason, request_id, from_state),
    )
    return cursor.rowcount == 1


def keep_final_execution(db: sqlite3.Connection, request_id: str, execution: dict[str, Any]) -> None:
    """Keep an execution's status once it has ended, so it need not be asked for again."""
    db.execute("UPDATE approval_requests SET final_execution = ? WHERE id = ?", (json.dumps(execution), request_id))


def public(row: sqlite3.Row) -> dict[str, Any]:
    """Return what may be shown of a request: everything but the task token."""
    hidden = ("task_token", "order_json", "checked_at", "final_execution")
    shown = {key: row[key] for key in row.keys() if key not in hidden}
    shown["order"] = json.loads(row["order_json"])
    return shown
