"""The SQLite store: every query of the store interface, on one connection per unit of work.

Rows become records here and nowhere else; each state change is guarded by the state it leaves.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Sequence
from typing import IO

from controller.core import states, text
from controller.storage import db
from controller.storage.interface import TIMEOUT_PASSED
from controller.storage.records import (
    Approval,
    ApprovalOutcome,
    ApprovalRequest,
    AuditAttempt,
    AuditEvent,
    DailyOutcomes,
    Decision,
    DecisionTimes,
    DueNotification,
    ExecutionStatus,
    FollowUp,
    FollowUpKind,
    Health,
    Lease,
    NewRequest,
    NotificationCounts,
    NotificationKind,
    PendingSummary,
    RequestQuery,
    SetAsideMessage,
    SignInState,
    StoredEvent,
    User,
    audit_event_from,
    now,
    request_from,
    user_from,
)

# seconds from a request being stored to its decision, over approval_requests' columns
TIME_TO_DECISION = "(julianday(decided_at) - julianday(received_at)) * 86400.0"
# the columns of a request that say when each follow-up is due and when it was taken
FOLLOW_UP_COLUMNS: dict[FollowUpKind, tuple[str, str]] = {
    "reminder": ("remind_at", "reminded_at"),
    "escalation": ("escalate_at", "escalated_at"),
}
ENDED_AT = f"COALESCE(decided_at, CASE state WHEN '{states.EXPIRED}' THEN expires_at ELSE checked_at END)"
ORDER_TOTAL = "json_extract(order_json, '$.total')"
ORDER_BY = {
    "waiting": "received_at, id",
    "newest": "received_at DESC, id DESC",
    "expiry": "expires_at, id",
    "total": f"{ORDER_TOTAL} DESC, id",
    "ended": f"{ENDED_AT} DESC, id",
}
CONTAINS = "instr(lower({}), lower(?)) > 0"
# the id, order id, customer name and id, and SKUs, lower-cased at save time (migration 0013)
TEXT_MATCH = "instr(search_text, lower(?)) > 0"
CUSTOMER_MATCH = (
    "(" + " OR ".join(CONTAINS.format(f"json_extract(order_json, '$.customer.{key}')") for key in ("name", "id")) + ")"
)


def _where(query: RequestQuery) -> tuple[str, list[object]]:
    """Return the WHERE clause and its parameters for a query: fixed fragments, values only as parameters."""
    clauses = [f"state IN ({', '.join('?' * len(query.states))})"]
    parameters: list[object] = [*query.states]
    optional: list[tuple[object, str, int]] = [
        (query.text, TEXT_MATCH, 1),
        (query.customer, CUSTOMER_MATCH, 2),
        (query.approver, CONTAINS.format("approver"), 1),
        (query.requested_from, "requested_at >= ?", 1),
        (query.requested_before, "requested_at < ?", 1),
        (query.min_total, f"{ORDER_TOTAL} >= ?", 1),
        (query.max_total, f"{ORDER_TOTAL} <= ?", 1),
        (query.currency, "json_extract(order_json, '$.currency') = ?", 1),
    ]
    for value, clause, uses in optional:
        if value is not None:
            clauses.append(clause)
            parameters.extend([value] * uses)
    return " AND ".join(clauses), parameters


def _request(row: sqlite3.Row) -> ApprovalRequest:
    return request_from(dict(row))


def _requests(rows: list[sqlite3.Row]) -> list[ApprovalRequest]:
    return [_request(row) for row in rows]


class SqliteStore:
    """The store interface on one SQLite connection, in autocommit mode but where a change needs several
    statements."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def close(self) -> None:
        self.connection.close()

    # --- requests ------------------------------------------------------------------------------------

    def save_request(self, request: NewRequest, notify: bool = False) -> bool:
        stamp = now()
        with db.transaction(self.connection):
            cursor = self.connection.execute(
                "INSERT OR IGNORE INTO approval_requests (id, execution_arn, task_token, order_json, requested_at,"
                " expires_at, received_at, checked_at, rule_json, remind_at, escalate_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.id,
                    request.execution_arn,
                    request.task_token,
                    json.dumps(request.order),
                    request.requested_at,
                    request.expires_at,
                    stamp,
                    stamp,
                    None if request.rule is None else json.dumps(request.rule),
                    request.remind_at,
                    request.escalate_at,
                ),
            )
            stored = cursor.rowcount == 1
            if stored and notify:
                self.connection.execute(
                    "INSERT INTO notifications (request_id, next_attempt_at) VALUES (?, ?)", (request.id, stamp)
                )
        return stored

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        row = self.connection.execute("SELECT * FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
        return _request(row) if row else None

    def request_as_seen(self, request_id: str) -> ApprovalRequest | None:
        return self.get_request(request_id)  # a read of the local file costs no more than keeping a record

    def pending(self, limit: int = -1) -> list[ApprovalRequest]:
        return _requests(
            self.connection.execute(
                "SELECT * FROM approval_requests WHERE state = ? ORDER BY received_at, id LIMIT ?",
                (states.PENDING, limit),
            ).fetchall()
        )

    def count_pending(self) -> int:
        query = "SELECT COUNT(*) FROM approval_requests WHERE state = ?"
        count: int = self.connection.execute(query, (states.PENDING,)).fetchone()[0]
        return count

    def recent_ended(self, limit: int = 10) -> list[ApprovalRequest]:
        marks = ", ".join("?" * len(states.ENDED))
        return _requests(
            self.connection.execute(
                f"SELECT * FROM approval_requests WHERE state IN ({marks})"
                " ORDER BY COALESCE(decided_at, checked_at) DESC, id DESC LIMIT ?",  # the table's order: time#id
                (*states.ENDED, limit),
            ).fetchall()
        )

    def expire_overdue(self, request_id: str | None = None) -> None:
        self.connection.execute(
            "UPDATE approval_requests SET state = :expired, closed_reason = :reason"
            " WHERE state = :pending AND expires_at <= :now AND (:id IS NULL OR id = :id)",
            {
                "expired": states.EXPIRED,
                "reason": TIMEOUT_PASSED,
                "pending": states.PENDING,
                "now": now(),
                "id": request_id,
            },
        )

    def stale(self, older_than_seconds: float, limit: int) -> list[ApprovalRequest]:
        return _requests(
            self.connection.execute(
                "SELECT * FROM approval_requests WHERE state = ? AND checked_at <= ? ORDER BY checked_at LIMIT ?",
                (states.PENDING, now(-older_than_seconds), limit),
            ).fetchall()
        )

    def touch(self, request_id: str) -> None:
        self.connection.execute("UPDATE approval_requests SET checked_at = ? WHERE id = ?", (now(), request_id))

    def claim(self, request_id: str, decision: Decision, read: ApprovalRequest | None = None) -> ApprovalRequest | None:
        row = self.connection.execute(
            "UPDATE approval_requests SET state = :deciding, decision = :action, approver = :approver,"
            " comment = :comment, reason = :reason, claimed_at = :claimed_at WHERE id = :id AND state = :pending"
            " RETURNING *",
            {
                "action": decision.action,
                "approver": decision.approver,
                "comment": decision.comment,
                "reason": decision.reason,
                "id": request_id,
                "claimed_at": now(),
                "deciding": states.DECIDING,
                "pending": states.PENDING,
            },
        ).fetchone()
        return _request(row) if row else None

    def add_approval(self, request_id: str, approval: Approval, required: int) -> ApprovalOutcome:
        with db.transaction(self.connection):
            row = self.connection.execute("SELECT state FROM approval_requests WHERE id = ?", (request_id,)).fetchone()
            if row is None or row["state"] != states.PENDING:
                return ApprovalOutcome("not pending")
            inserted = self.connection.execute(
                "INSERT OR IGNORE INTO approvals (request_id, approver, at, comment) VALUES (?, ?, ?, ?)",
                (request_id, approval.approver, approval.at, approval.comment),
            )
            if inserted.rowcount == 0:
                return ApprovalOutcome("duplicate")
            query = "SELECT COUNT(*) FROM approvals WHERE request_id = ?"
            if self.connection.execute(query, (request_id,)).fetchone()[0] < required:
                return ApprovalOutcome("recorded")
            decision = Decision("approve", approval.approver, approval.comment)
            return ApprovalOutcome("claimed", self.claim(request_id, decision))

    def approvals(self, request_id: str) -> list[Approval]:
        rows = self.connection.execute(
            "SELECT approver, at, comment FROM approvals WHERE request_id = ? ORDER BY at, approver", (request_id,)
        ).fetchall()
        return [Approval(row["approver"], row["at"], row["comment"]) for row in rows]

    def stale_claims(self, older_than_seconds: float) -> list[ApprovalRequest]:
        return _requests(
            self.connection.execute(
                "SELECT * FROM approval_requests WHERE state = ? AND claimed_at <= ?",
                (states.DECIDING, now(-older_than_seconds)),
            ).fetchall()
        )

    def release(self, request_id: str) -> None:
        with db.transaction(self.connection):
            self.connection.execute(
                "DELETE FROM approvals WHERE request_id = :id AND approver = (SELECT approver FROM approval_requests"
                " WHERE id = :id AND state = :deciding AND decision = 'approve' AND rule_json IS NOT NULL)",
                {"id": request_id, "deciding": states.DECIDING},
            )
            self.connection.execute(
                "UPDATE approval_requests SET state = ?, decision = NULL, approver = NULL, comment = NULL,"
                " reason = NULL WHERE id = ? AND state = ?",
                (states.PENDING, request_id, states.DECIDING),
            )

    def finish(
        self,
        request_id: str,
        state: str,
        closed_reason: str | None,
        from_state: str,
        read: ApprovalRequest | None = None,
    ) -> ApprovalRequest | None:
        decided_at = now() if state in states.DECIDED else None
        row = self.connection.execute(
            "UPDATE approval_requests SET state = ?, decided_at = ?, closed_reason = ? WHERE id = ? AND state = ?"
            " RETURNING *",
            (state, decided_at, closed_reason, request_id, from_state),
        ).fetchone()
        return _request(row) if row else None

    def keep_final_execution(self, request_id: str, execution: ExecutionStatus) -> None:
        kept = json.dumps({"status": execution.status, "error": execution.error, "cause": execution.cause})
        self.connection.execute("UPDATE approval_requests SET final_execution = ? WHERE id = ?", (kept, request_id))

    # --- the event log -------------------------------------------------------------------------------

    def events_after(self, seq: int, limit: int = 500) -> list[StoredEvent]:
        rows = self.connection.execute(
            "SELECT seq, kind, request_id, state FROM request_events WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [StoredEvent(row["seq"], row["kind"], row["request_id"], row["state"]) for row in rows]

    def event_range(self) -> tuple[int, int]:
        first, last = self.connection.execute(
            "SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM request_events"
        ).fetchone()
        return int(first), int(last)

    def forget_events(self, keep: int) -> None:
        self.connection.execute(
            "DELETE FROM request_events WHERE seq <= (SELECT MAX(seq) FROM request_events) - ?", (keep,)
        )

    # --- notifications -------------------------------------------------------------------------------

    def due_notifications(self, limit: int) -> list[DueNotification]:
        rows = self.connection.execute(
            "SELECT n.attempts, n.kind AS notification_kind, r.* FROM notifications n"
            " JOIN approval_requests r ON r.id = n.request_id"
            " WHERE n.delivered_at IS NULL AND n.failed_at IS NULL AND n.next_attempt_at <= :now"
            " AND (n.kind = 'new' OR r.state != :deciding) ORDER BY n.next_attempt_at LIMIT :limit",
            {"now": now(), "deciding": states.DECIDING, "limit": limit},
        ).fetchall()
        return [DueNotification(_request(row), row["attempts"], row["notification_kind"]) for row in rows]

    def notification_sent(self, request_id: str, kind: NotificationKind = "new") -> None:
        self.connection.execute(
            "UPDATE notifications SET delivered_at = ? WHERE request_id = ? AND kind = ?", (now(), request_id, kind)
        )

    def notification_failed(
        self, request_id: str, error: str, retry_in_seconds: float | None, kind: NotificationKind = "new"
    ) -> None:
        if retry_in_seconds is None:
            self.connection.execute(
                "UPDATE notifications SET attempts = attempts + 1, last_error = ?, failed_at = ?"
                " WHERE request_id = ? AND kind = ?",
                (error, now(), request_id, kind),
            )
            return
        self.connection.execute(
            "UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE request_id = ? AND kind = ?",
            (error, now(retry_in_seconds), request_id, kind),
        )

    def notification_counts(self) -> NotificationCounts:
        delivered, failed, waiting = self.connection.execute(
            "SELECT COUNT(delivered_at), COUNT(failed_at), COUNT(*) - COUNT(delivered_at) - COUNT(failed_at)"
            " FROM notifications"
        ).fetchone()
        return NotificationCounts(delivered, failed, waiting)

    # --- reminders and escalations --------------------------------------------------------------------

    def due_follow_ups(self, limit: int) -> list[FollowUp]:
        rows = self.connection.execute(
            "SELECT id, 'reminder' AS kind, remind_at AS due FROM approval_requests"
            " WHERE remind_at <= :now AND reminded_at IS NULL AND state = :pending"
            " UNION ALL SELECT id, 'escalation', escalate_at FROM approval_requests"
            " WHERE escalate_at <= :now AND escalated_at IS NULL AND state = :pending"
            " ORDER BY due, id LIMIT :limit",
            {"now": now(), "pending": states.PENDING, "limit": limit},
        ).fetchall()
        return [FollowUp(row["id"], row["kind"]) for row in rows]

    def take_follow_up(self, request_id: str, kind: FollowUpKind, notify: bool) -> bool:
        due, taken = FOLLOW_UP_COLUMNS[kind]
        stamp = now()
        with db.transaction(self.connection):
            cursor = self.connection.execute(
                f"UPDATE approval_requests SET {taken} = ?"
                f" WHERE id = ? AND state = ? AND {due} <= ? AND {taken} IS NULL",
                (stamp, request_id, states.PENDING, stamp),
            )
            if cursor.rowcount != 1:
                return False
            if notify:
                self.connection.execute(
                    "INSERT INTO notifications (request_id, kind, next_attempt_at) VALUES (?, ?, ?)",
                    (request_id, kind, stamp),
                )
        return True

    def withdraw_notification(self, request_id: str, kind: NotificationKind) -> None:
        self.connection.execute(
            "DELETE FROM notifications WHERE request_id = ? AND kind = ? AND delivered_at IS NULL",
            (request_id, kind),
        )

    def claim_notification(self, request_id: str, kind: NotificationKind, seconds: float) -> bool:
        stamp = now()
        claimed = self.connection.execute(
            "UPDATE notifications SET next_attempt_at = ? WHERE request_id = ? AND kind = ?"
            " AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?",
            (now(seconds), request_id, kind, stamp),
        )
        return claimed.rowcount == 1

    # --- users and sign-in failures ------------------------------------------------------------------

    def has_users(self) -> bool:
        exists: int = self.connection.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0]
        return exists == 1

    def sign_in_state(self) -> SignInState:
        users, had = self.connection.execute(
            "SELECT EXISTS (SELECT 1 FROM users), EXISTS (SELECT 1 FROM sign_in_state)"
        ).fetchone()
        return "on" if users else "closed" if had else "open"

    def reopen(self) -> bool:
        with db.transaction(self.connection):
            if self.has_users():
                return False
            self.connection.execute("DELETE FROM sign_in_state")
        return True

    def users(self) -> list[User]:
        return [user_from(dict(row)) for row in self.connection.execute("SELECT * FROM users ORDER BY name").fetchall()]

    def user(self, name: str) -> User | None:
        row = self.connection.execute("SELECT * FROM users WHERE name_key = ?", (text.name_key(name),)).fetchone()
        return user_from(dict(row)) if row else None

    def add_user(self, name: str, role: str, password_hash: str, token_hash: str, groups: Sequence[str] = ()) -> bool:
        with db.transaction(self.connection):  # the check and the insert under one write lock
            if self.user(name) is not None:
                return False
            self.connection.execute(
                "INSERT INTO users (name, name_key, role, password_hash, token_hash, created_at, groups_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",  # a trigger closes the database to local mode
                (name, text.name_key(name), role, password_hash, token_hash, now(), json.dumps(sorted(set(groups)))),
            )
        return True

    def _change_user(self, statement: str, name: str, *values: str) -> bool:
        """Change or delete the user named `name` and end every session of theirs, in one transaction."""
        with db.transaction(self.connection):
            changed = self.connection.execute(statement, (*values, name)).rowcount == 1
            self.connection.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        return changed

    def set_groups(self, name: str, groups: Sequence[str]) -> bool:
        query = "UPDATE users SET groups_json = ? WHERE name = ?"
        return self.connection.execute(query, (json.dumps(sorted(set(groups))), name)).rowcount == 1

    def remove_user(self, name: str) -> bool:
        return self._change_user("DELETE FROM users WHERE name = ?", name)

    def replace_token(self, name: str, token_hash: str) -> bool:
        return self._change_user("UPDATE users SET token_hash = ? WHERE name = ?", name, token_hash)

    def replace_password(self, name: str, password_hash: str) -> bool:
        return self._change_user("UPDATE users SET password_hash = ? WHERE name = ?", name, password_hash)

    def start_session(self, secret_hash: str, name: str, lifetime_seconds: float, password_hash: str) -> bool:
        inserted = self.connection.execute(
            "INSERT INTO sessions (secret_hash, user_name, created_at, expires_at)"
            " SELECT ?, name, ?, ? FROM users WHERE name = ? AND password_hash = ?",
            (secret_hash, now(), now(lifetime_seconds), name, password_hash),
        )
        return inserted.rowcount == 1

    def session_user(self, secret_hash: str) -> User | None:
        row = self.connection.execute(
            "SELECT u.* FROM sessions s JOIN users u ON u.name = s.user_name"
            " WHERE s.secret_hash = ? AND s.expires_at > ?",
            (secret_hash, now()),
        ).fetchone()
        return user_from(dict(row)) if row else None

    def end_sessions(self, name: str) -> None:
        with db.transaction(self.connection):
            self.connection.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            self.connection.execute("DELETE FROM sessions WHERE expires_at <= ?", (now(),))  # everyone's expired

    def locked_until(self, keys: list[str]) -> str | None:
        marks = ", ".join("?" * len(keys))
        until: str | None = self.connection.execute(
            f"SELECT MAX(locked_until) FROM sign_in_failures WHERE key IN ({marks}) AND locked_until > ?",
            (*keys, now()),
        ).fetchone()[0]
        return until

    def take_attempt(self, keys: list[str], max_attempts: int, lockout_seconds: float) -> str | None:
        marks = ", ".join("?" * len(keys))
        with db.transaction(self.connection):  # parallel attempts queue on the write lock: none slips past
            until = self.locked_until(keys)
            if until is not None:
                return until
            self.connection.executemany(
                "INSERT INTO sign_in_failures (key, failures, last_failed_at) VALUES (:key, 1, :now)"
                " ON CONFLICT (key) DO UPDATE SET failures = failures + 1, last_failed_at = :now",
                [{"key": key, "now": now()} for key in keys],
            )
            lockout_ends = now(lockout_seconds)
            locked = self.connection.execute(
                f"UPDATE sign_in_failures SET failures = 0, locked_until = ? WHERE key IN ({marks}) AND failures > ?",
                (lockout_ends, *keys, max_attempts),
            ).rowcount
        return lockout_ends if locked else None

    def forgive_attempt(self, name_key: str, address_key: str) -> None:
        with db.transaction(self.connection):
            self.connection.execute("DELETE FROM sign_in_failures WHERE key = ?", (name_key,))
            self.connection.execute(
                "UPDATE sign_in_failures SET failures = MAX(failures - 1, 0) WHERE key = ?", (address_key,)
            )

    # --- the audit trail -----------------------------------------------------------------------------

    def record_attempt(self, attempt: AuditAttempt) -> None:
        self.connection.execute(
            "INSERT INTO audit_events (at, actor, role, address, action, request_id, status, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now(),
                attempt.actor,
                attempt.role,
                attempt.address,
                attempt.action,
                attempt.request_id,
                attempt.status,
                attempt.outcome,
            ),
        )

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        rows = self.connection.execute(
            "SELECT * FROM audit_events WHERE request_id = ? ORDER BY id", (request_id,)
        ).fetchall()
        return [audit_event_from(dict(row)) for row in rows]

    # --- invalid messages ----------------------------------------------------------------------------

    def set_aside(self, message_id: str, reason: str, receive_count: int) -> None:
        stamp = now()
        self.connection.execute(
            "INSERT INTO invalid_messages (message_id, reason, receive_count, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id)"
            " DO UPDATE SET receive_count = excluded.receive_count, last_seen = excluded.last_seen",
            (message_id, reason, receive_count, stamp, stamp),
        )

    def invalid_messages(self, limit: int) -> list[SetAsideMessage]:
        rows = self.connection.execute(
            "SELECT * FROM invalid_messages ORDER BY last_seen DESC LIMIT ?", (limit,)
        ).fetchall()
        return [
            SetAsideMessage(row["message_id"], row["reason"], row["receive_count"], row["first_seen"], row["last_seen"])
            for row in rows
        ]

    # --- finding requests ----------------------------------------------------------------------------

    def find_requests(self, query: RequestQuery, limit: int, offset: int = 0) -> list[ApprovalRequest]:
        where, parameters = _where(query)
        return _requests(
            self.connection.execute(
                f"SELECT * FROM approval_requests WHERE {where} ORDER BY {ORDER_BY[query.sort]} LIMIT ? OFFSET ?",
                (*parameters, limit, offset),
            ).fetchall()
        )

    def count_requests(self, query: RequestQuery) -> int:
        where, parameters = _where(query)
        count: int = self.connection.execute(
            f"SELECT COUNT(*) FROM approval_requests WHERE {where}", parameters
        ).fetchone()[0]
        return count

    def iter_requests(self, query: RequestQuery) -> Iterator[ApprovalRequest]:
        where, parameters = _where(query)
        # a cursor of its own reads the rows as they are asked for, never all at once
        cursor = self.connection.execute(
            f"SELECT * FROM approval_requests WHERE {where} ORDER BY {ORDER_BY[query.sort]}", parameters
        )
        try:
            for row in cursor:
                yield _request(row)
        finally:
            cursor.close()

    # --- aggregates ----------------------------------------------------------------------------------

    def pending_summary(self) -> PendingSummary:
        count, oldest, soonest = self.connection.execute(
            "SELECT COUNT(*), MIN(requested_at), MIN(expires_at) FROM approval_requests WHERE state = ?",
            (states.PENDING,),
        ).fetchone()
        return PendingSummary(int(count), oldest, soonest)

    def pending_by_rule(self) -> dict[str | None, PendingSummary]:
        rows = self.connection.execute(
            "SELECT json_extract(rule_json, '$.name') AS rule, COUNT(*), MIN(requested_at), MIN(expires_at)"
            " FROM approval_requests WHERE state = ? GROUP BY rule",
            (states.PENDING,),
        ).fetchall()
        return {row[0]: PendingSummary(int(row[1]), row[2], row[3]) for row in rows}

    def ended_counts(self) -> dict[str, int]:
        marks = ", ".join("?" * len(states.ENDED))
        rows = self.connection.execute(
            f"SELECT state, COUNT(*) FROM approval_requests WHERE state IN ({marks}) GROUP BY state", states.ENDED
        ).fetchall()
        return {state: 0 for state in states.ENDED} | {row[0]: int(row[1]) for row in rows}

    def decision_times(self, bounds: tuple[float, ...]) -> DecisionTimes:
        marks = ", ".join("?" * len(states.DECIDED))
        row = self.connection.execute(
            f"SELECT COUNT(*), COALESCE(SUM(d), 0.0){', SUM(d <= ?)' * len(bounds)} FROM"
            f" (SELECT {TIME_TO_DECISION} AS d FROM approval_requests"
            f" WHERE state IN ({marks}) AND decided_at IS NOT NULL)",
            (*bounds, *states.DECIDED),
        ).fetchone()
        return DecisionTimes(bounds, tuple(int(n or 0) for n in row[2:]), int(row[0]), float(row[1]))

    def decision_quantiles(self, since: str, quantiles: tuple[float, ...]) -> tuple[float | None, ...]:
        marks = ", ".join("?" * len(states.DECIDED))
        decided = f"FROM approval_requests WHERE state IN ({marks}) AND decided_at >= ?"
        count: int = self.connection.execute(f"SELECT COUNT(*) {decided}", (*states.DECIDED, since)).fetchone()[0]
        if not count:
            return tuple(None for _ in quantiles)
        ranked = f"SELECT {TIME_TO_DECISION} AS d {decided} ORDER BY d LIMIT 1 OFFSET ?"
        return tuple(
            float(
                self.connection.execute(ranked, (*states.DECIDED, since, max(0, math.ceil(q * count) - 1))).fetchone()[
                    0
                ]
            )
            for q in quantiles
        )

    def ended_per_day(self, since: str) -> list[DailyOutcomes]:
        marks = ", ".join("?" * len(states.ENDED))
        rows = self.connection.execute(
            f"SELECT substr({ENDED_AT}, 1, 10) AS day, state, COUNT(*) FROM approval_requests"
            f" WHERE state IN ({marks}) AND {ENDED_AT} >= ? GROUP BY day, state ORDER BY day",
            (*states.ENDED, since),
        ).fetchall()
        days: dict[str, dict[str, int]] = {}
        for day, state, count in rows:
            days.setdefault(day, dict.fromkeys(states.ENDED, 0))[state] = int(count)
        return [DailyOutcomes(day, counts) for day, counts in days.items()]

    # --- leases on work ----------------------------------------------------------------------------

    def take_lease(self, work: str, owner: str, seconds: float) -> Lease:
        # one statement, so that the row it returns is the one its condition was decided on: a refused owner's
        # update sets each column to what it was, and RETURNING gives the holder's row
        taken = "owner = :owner OR expires_at <= :now"
        ((holder, expires_at),) = self.connection.execute(
            "INSERT INTO leases (work, owner, expires_at) VALUES (:work, :owner, :ends) ON CONFLICT (work) DO UPDATE"
            f" SET owner = CASE WHEN {taken} THEN :owner ELSE owner END,"
            f" expires_at = CASE WHEN {taken} THEN :ends ELSE expires_at END"
            " RETURNING owner, expires_at",
            {"work": work, "owner": owner, "ends": now(seconds), "now": now()},
        ).fetchall()
        return Lease(holder, expires_at)

    def drop_lease(self, work: str, owner: str) -> None:
        self.connection.execute("DELETE FROM leases WHERE work = ? AND owner = ?", (work, owner))

    # --- whether the store takes writes -----------------------------------------------------------

    def probe(self) -> None:
        self.connection.execute(
            "INSERT INTO store_probe (id, probed_at) VALUES (1, :now) ON CONFLICT (id) DO UPDATE SET probed_at = :now",
            {"now": now()},
        )
        db.mark_writable(self.connection)

    def check_writable(self) -> None:
        if self.failure() is not None:
            self.probe()

    def failure(self) -> str | None:
        return db.health_of(self.connection).failure


class SqliteBackend:
    """An SQLite file: the schema migrated in place, a connection per store."""

    shared = False  # one controller per file (docs/operations.md): its background work needs no leases

    def __init__(self, path: str) -> None:
        self.path = path

    def migrate(self) -> int:
        return db.init_db(self.path)

    def open(self) -> SqliteStore:
        return SqliteStore(db.connect(self.path))

    def health(self) -> Health:
        return db.health(self.path)

    def claim_serving(self) -> IO[str]:
        return db.claim_serving(self.path)

    def describe(self) -> str:
        return f"the SQLite database {self.path}"
