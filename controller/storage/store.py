"""Approval requests in SQLite: every query the controller makes. Each state change is guarded by
the state it leaves, so two writers can never both move one request."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from controller.core import states, text
from controller.core.digest import order_digest
from controller.storage.db import now, transaction
from controller.storage.sqlite import SqliteStore

TIMED_OUT = "The approval timeout passed."
# never shown to a reader
HIDDEN_COLUMNS = ("task_token", "order_json", "checked_at", "final_execution", "rule_json", "search_text")


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


# --- users, sign-in failures and the audit trail ---------------------------------------------------


def has_users(db: sqlite3.Connection) -> bool:
    """Return whether any user exists, which switches sign-in on."""
    exists: int = db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0]
    return exists == 1


def users(db: sqlite3.Connection) -> list[sqlite3.Row]:
    """Return every user, by name."""
    return db.execute("SELECT * FROM users ORDER BY name").fetchall()


def user(db: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    """Return the user of this name whatever its case or Unicode form (text.name_key), or None."""
    row: sqlite3.Row | None = db.execute("SELECT * FROM users WHERE name_key = ?", (text.name_key(name),)).fetchone()
    return row


def session_user(db: sqlite3.Connection, secret_hash: str) -> sqlite3.Row | None:
    """Return the user of a page session still running, or None (ended, expired, or never started)."""
    row: sqlite3.Row | None = db.execute(
        "SELECT u.* FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.secret_hash = ? AND s.expires_at > ?",
        (secret_hash, now()),
    ).fetchone()
    return row


# The rest of the users' queries are the store interface's (controller.storage.sqlite), on this connection.


def had_users(db: sqlite3.Connection) -> bool:
    return SqliteStore(db).had_users()


def reopen(db: sqlite3.Connection) -> bool:
    return SqliteStore(db).reopen()


def add_user(
    db: sqlite3.Connection, name: str, role: str, password_hash: str, token_hash: str, groups: Sequence[str] = ()
) -> bool:
    return SqliteStore(db).add_user(name, role, password_hash, token_hash, groups)


def set_groups(db: sqlite3.Connection, name: str, groups: Sequence[str]) -> bool:
    """Make these the user's groups (none: no group); False if there is no such user."""
    cursor = db.execute("UPDATE users SET groups_json = ? WHERE name = ?", (json.dumps(sorted(set(groups))), name))
    return cursor.rowcount == 1


def groups_of(user: sqlite3.Row) -> tuple[str, ...]:
    """Return the groups of a user as stored."""
    return tuple(json.loads(user["groups_json"]))


def remove_user(db: sqlite3.Connection, name: str) -> bool:
    return SqliteStore(db).remove_user(name)


def replace_token(db: sqlite3.Connection, name: str, token_hash: str) -> bool:
    return SqliteStore(db).replace_token(name, token_hash)


def replace_password(db: sqlite3.Connection, name: str, password_hash: str) -> bool:
    return SqliteStore(db).replace_password(name, password_hash)


def start_session(db: sqlite3.Connection, secret_hash: str, name: str, lifetime_seconds: float) -> None:
    SqliteStore(db).start_session(secret_hash, name, lifetime_seconds)


def end_sessions(db: sqlite3.Connection, name: str) -> None:
    SqliteStore(db).end_sessions(name)


def locked_until(db: sqlite3.Connection, keys: list[str]) -> str | None:
    return SqliteStore(db).locked_until(keys)


def take_attempt(db: sqlite3.Connection, keys: list[str], max_attempts: int, lockout_seconds: float) -> str | None:
    return SqliteStore(db).take_attempt(keys, max_attempts, lockout_seconds)


def forgive_attempt(db: sqlite3.Connection, name_key: str, address_key: str) -> None:
    SqliteStore(db).forgive_attempt(name_key, address_key)


def audit(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    """Record an attempt to decide: at, actor, role, address, action, request_id, status, outcome."""
    db.execute(
        "INSERT INTO audit_events (at, actor, role, address, action, request_id, status, outcome)"
        " VALUES (:at, :actor, :role, :address, :action, :request_id, :status, :outcome)",
        {"at": now(), **event},
    )


def audit_trail(db: sqlite3.Connection, request_id: str) -> list[dict[str, Any]]:
    """Return the recorded attempts to decide a request, oldest first."""
    rows = db.execute("SELECT * FROM audit_events WHERE request_id = ? ORDER BY id", (request_id,)).fetchall()
    return [dict(row) for row in rows]


# --- approval requests ---------------------------------------------------------------------------


def save(db: sqlite3.Connection, row: dict[str, Any], notify: bool = False) -> bool:
    """Store a request unless it is already stored (SQS may deliver a message twice); with notify,
    queue its webhook notification in the same transaction."""
    stamp = now()
    with transaction(db):
        cursor = db.execute(
            "INSERT OR IGNORE INTO approval_requests (id, execution_arn, task_token, order_json, requested_at,"
            " expires_at, received_at, checked_at, rule_json) VALUES (:id, :execution_arn, :task_token, :order_json,"
            " :requested_at, :expires_at, :received_at, :checked_at, :rule_json)",
            {"rule_json": None, **row, "received_at": stamp, "checked_at": stamp},
        )
        stored = cursor.rowcount == 1
        if stored and notify:
            db.execute("INSERT INTO notifications (request_id, next_attempt_at) VALUES (?, ?)", (row["id"], stamp))
    return stored


def set_aside(db: sqlite3.Connection, message_id: str, reason: str, receive_count: int) -> None:
    """Record a queue message that is not an approval request (never its body: it may hold a token)."""
    stamp = now()
    db.execute(
        "INSERT INTO invalid_messages (message_id, reason, receive_count, first_seen, last_seen)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id)"
        " DO UPDATE SET receive_count = excluded.receive_count, last_seen = excluded.last_seen",
        (message_id, reason, receive_count, stamp, stamp),
    )


def invalid_messages(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """Return the latest queue messages that were set aside as not approval requests."""
    rows = db.execute("SELECT * FROM invalid_messages ORDER BY last_seen DESC LIMIT ?", (limit,)).fetchall()
    return [dict(row) for row in rows]


def get(db: sqlite3.Connection, request_id: str) -> sqlite3.Row | None:
    """Return the stored request with this id, or None."""
    row: sqlite3.Row | None = db.execute("SELECT * FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
    return row


def expire_overdue(db: sqlite3.Connection, request_id: str | None = None) -> None:
    """Mark pending requests (all, or the one named) whose approval timeout has passed as expired."""
    db.execute(
        "UPDATE approval_requests SET state = :expired, closed_reason = :reason"
        " WHERE state = :pending AND expires_at <= :now AND (:id IS NULL OR id = :id)",
        {"expired": states.EXPIRED, "reason": TIMED_OUT, "pending": states.PENDING, "now": now(), "id": request_id},
    )


def pending(db: sqlite3.Connection, limit: int = -1) -> list[sqlite3.Row]:
    """Return pending requests, oldest first; limit -1 means all."""
    return db.execute(
        "SELECT * FROM approval_requests WHERE state = ? ORDER BY received_at, id LIMIT ?", (states.PENDING, limit)
    ).fetchall()


def count_pending(db: sqlite3.Connection) -> int:
    """Return how many requests wait for a decision."""
    count: int = db.execute("SELECT COUNT(*) FROM approval_requests WHERE state = ?", (states.PENDING,)).fetchone()[0]
    return count


def recent_ended(db: sqlite3.Connection, limit: int = 10) -> list[sqlite3.Row]:
    """Return the latest requests that ended (decided, expired or closed), newest first."""
    marks = ", ".join("?" * len(states.ENDED))
    return db.execute(
        f"SELECT * FROM approval_requests WHERE state IN ({marks})"
        " ORDER BY COALESCE(decided_at, checked_at) DESC, id LIMIT ?",
        (*states.ENDED, limit),
    ).fetchall()


def stale(db: sqlite3.Connection, older_than_seconds: float, limit: int) -> list[sqlite3.Row]:
    """Return pending requests whose execution has not been looked at for a while."""
    return db.execute(
        "SELECT * FROM approval_requests WHERE state = ? AND checked_at <= ? ORDER BY checked_at LIMIT ?",
        (states.PENDING, _ago(older_than_seconds), limit),
    ).fetchall()


def touch(db: sqlite3.Connection, request_id: str) -> None:
    """Note that the request's execution was just looked at."""
    db.execute("UPDATE approval_requests SET checked_at = ? WHERE id = ?", (now(), request_id))


def claim(db: sqlite3.Connection, request_id: str, decision: dict[str, Any]) -> sqlite3.Row | None:
    """Reserve a pending request for one decision and return it claimed; None if another caller won."""
    row: sqlite3.Row | None = db.execute(
        "UPDATE approval_requests SET state = :deciding, decision = :decision, approver = :approver,"
        " comment = :comment, reason = :reason, claimed_at = :claimed_at WHERE id = :id AND state = :pending"
        " RETURNING *",
        {**decision, "id": request_id, "claimed_at": now(), "deciding": states.DECIDING, "pending": states.PENDING},
    ).fetchone()
    return row


def add_approval(
    db: sqlite3.Connection, request_id: str, decision: dict[str, Any], required: int
) -> tuple[str, sqlite3.Row | None]:
    """Record one person's approval of a pending request; the one that makes `required` claims it at once.

    Returns ("claimed", the claimed row), ("recorded", None) when more are needed, ("duplicate", None)
    when this approver has approved it already, or ("not pending", None).
    """
    with transaction(db):
        state = db.execute("SELECT state FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
        if state is None or state[0] != states.PENDING:
            return "not pending", None
        inserted = db.execute(
            "INSERT OR IGNORE INTO approvals (request_id, approver, at, comment) VALUES (?, ?, ?, ?)",
            (request_id, decision["approver"], now(), decision["comment"]),
        )
        if inserted.rowcount == 0:
            return "duplicate", None
        count = db.execute("SELECT COUNT(*) FROM approvals WHERE request_id = ?", (request_id,)).fetchone()[0]
        if count < required:
            return "recorded", None
        return "claimed", claim(db, request_id, decision)


def approvals(db: sqlite3.Connection, request_id: str) -> list[dict[str, Any]]:
    """Return the approvals a request has received, oldest first: approver, at, comment."""
    rows = db.execute(
        "SELECT approver, at, comment FROM approvals WHERE request_id = ? ORDER BY at, approver", (request_id,)
    ).fetchall()
    return [dict(row) for row in rows]


def stale_claims(db: sqlite3.Connection, older_than_seconds: float) -> list[sqlite3.Row]:
    """Return requests claimed for a decision longer ago than any AWS call can take."""
    return db.execute(
        "SELECT * FROM approval_requests WHERE state = ? AND claimed_at <= ?",
        (states.DECIDING, _ago(older_than_seconds)),
    ).fetchall()


def release(db: sqlite3.Connection, request_id: str) -> None:
    """Return a claimed request to pending after a call that did not reach Step Functions; the approval
    that completed a rule's count is taken back with it, so its approver can send it again."""
    with transaction(db):
        db.execute(
            "DELETE FROM approvals WHERE request_id = :id AND approver = (SELECT approver FROM approval_requests"
            " WHERE id = :id AND state = :deciding AND decision = 'approve' AND rule_json IS NOT NULL)",
            {"id": request_id, "deciding": states.DECIDING},
        )
        db.execute(
            "UPDATE approval_requests SET state = ?, decision = NULL, approver = NULL, comment = NULL,"
            " reason = NULL WHERE id = ? AND state = ?",
            (states.PENDING, request_id, states.DECIDING),
        )


def finish(db: sqlite3.Connection, request_id: str, state: str, closed_reason: str | None, from_state: str) -> bool:
    """Record the end of a request (approved, rejected, expired, closed) if it is still in from_state."""
    decided_at = now() if state in states.DECIDED else None
    cursor = db.execute(
        "UPDATE approval_requests SET state = ?, decided_at = ?, closed_reason = ? WHERE id = ? AND state = ?",
        (state, decided_at, closed_reason, request_id, from_state),
    )
    return cursor.rowcount == 1


def keep_final_execution(db: sqlite3.Connection, request_id: str, execution: dict[str, Any]) -> None:
    """Keep an execution's status once it has ended, so it need not be asked for again."""
    db.execute("UPDATE approval_requests SET final_execution = ? WHERE id = ?", (json.dumps(execution), request_id))


def events_after(db: sqlite3.Connection, seq: int, limit: int = 500) -> list[sqlite3.Row]:
    """Return state changes after the one numbered seq, oldest first."""
    return db.execute(
        "SELECT seq, kind, request_id, state FROM request_events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
    ).fetchall()


def event_range(db: sqlite3.Connection) -> tuple[int, int]:
    """Return the numbers of the oldest and the latest state change kept (0, 0 when there is none)."""
    first, last = db.execute("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM request_events").fetchone()
    return int(first), int(last)


def forget_events(db: sqlite3.Connection, keep: int) -> None:
    """Drop all but the latest `keep` state changes; a page that was away longer reloads its lists."""
    db.execute("DELETE FROM request_events WHERE seq <= (SELECT MAX(seq) FROM request_events) - ?", (keep,))


def due_notifications(db: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    """Return notifications to send now, with their request, oldest first."""
    return db.execute(
        "SELECT n.attempts, r.* FROM notifications n JOIN approval_requests r ON r.id = n.request_id"
        " WHERE n.delivered_at IS NULL AND n.failed_at IS NULL AND n.next_attempt_at <= ?"
        " ORDER BY n.next_attempt_at LIMIT ?",
        (now(), limit),
    ).fetchall()


def notification_sent(db: sqlite3.Connection, request_id: str) -> None:
    db.execute("UPDATE notifications SET delivered_at = ? WHERE request_id = ?", (now(), request_id))


def notification_failed(db: sqlite3.Connection, request_id: str, error: str, retry_in_seconds: float | None) -> None:
    """Record a failed attempt: try again after retry_in_seconds, or give up when that is None."""
    stamp = now()
    if retry_in_seconds is None:
        db.execute(
            "UPDATE notifications SET attempts = attempts + 1, last_error = ?, failed_at = ? WHERE request_id = ?",
            (error, stamp, request_id),
        )
        return
    db.execute(
        "UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE request_id = ?",
        (error, _ago(-retry_in_seconds), request_id),
    )


def notification_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Return how many notifications were delivered, failed for good, or still wait."""
    row = db.execute(
        "SELECT COUNT(delivered_at), COUNT(failed_at), COUNT(*) - COUNT(delivered_at) - COUNT(failed_at)"
        " FROM notifications"
    ).fetchone()
    return {"delivered": row[0], "failed": row[1], "waiting": row[2]}


def public(row: sqlite3.Row) -> dict[str, Any]:
    """Return what may be shown of a request: everything but the task token and bookkeeping."""
    shown = {key: row[key] for key in row.keys() if key not in HIDDEN_COLUMNS}  # noqa: SIM118 (a Row is no dict)
    shown["order"] = json.loads(row["order_json"])
    shown["order_digest"] = order_digest(shown["order"])
    return shown


# --- whether the store can be written ------------------------------------------------------------


def probe(db: sqlite3.Connection) -> None:
    """Write one row; StoreUnavailable if the store cannot be written, else any failure noted is cleared."""
    SqliteStore(db).probe()


def check_writable(db: sqlite3.Connection) -> None:
    """Raise StoreUnavailable unless the store can be written; it writes only once a failure was noted."""
    SqliteStore(db).check_writable()


def failure(db: sqlite3.Connection) -> str | None:
    """Return why the store last failed, or None when its last write went through."""
    return SqliteStore(db).failure()
