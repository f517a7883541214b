"""A whole SQLite store read as records, to copy it into another store (`python -m controller copy-to-dynamodb`).

The database is held as a controller holds it (no controller may serve it meanwhile, so nothing changes after it
was read) and brought to the current schema first, as a start would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller.core.config import ConfigurationError
from controller.storage import db
from controller.storage.records import (
    Approval,
    KeptNotification,
    KeptRequest,
    SetAsideMessage,
    StoreContents,
    audit_event_from,
    request_from,
    user_from,
)


class NoDatabase(ConfigurationError):
    """There is no SQLite database where the configuration says."""


def _kept_request(row: sqlite3.Row) -> KeptRequest:
    return KeptRequest(
        request_from(dict(row)), row["remind_at"], row["escalate_at"], row["reminded_at"], row["escalated_at"]
    )


def _notification(row: sqlite3.Row) -> KeptNotification:
    return KeptNotification(
        row["request_id"],
        row["kind"],
        row["attempts"],
        row["next_attempt_at"],
        row["delivered_at"],
        row["failed_at"],
        row["last_error"],
    )


def read_contents(connection: sqlite3.Connection) -> StoreContents:
    """Return everything the database keeps that a copy carries, read in one transaction."""

    def rows(query: str) -> list[sqlite3.Row]:
        found: list[sqlite3.Row] = connection.execute(query).fetchall()
        return found

    with db.transaction(connection):
        since = rows("SELECT users_since FROM sign_in_state")
        # the number the next event would follow, even when the log kept none of the latest
        latest = rows("SELECT seq FROM sqlite_sequence WHERE name = 'request_events'")
        return StoreContents(
            requests=tuple(map(_kept_request, rows("SELECT * FROM approval_requests ORDER BY received_at, id"))),
            approvals=tuple(
                (row["request_id"], Approval(row["approver"], row["at"], row["comment"]))
                for row in rows("SELECT * FROM approvals ORDER BY request_id, at, approver")
            ),
            notifications=tuple(map(_notification, rows("SELECT * FROM notifications ORDER BY request_id, kind"))),
            users=tuple(user_from(dict(row)) for row in rows("SELECT * FROM users ORDER BY name")),
            users_since=since[0]["users_since"] if since else None,
            audit=tuple(audit_event_from(dict(row)) for row in rows("SELECT * FROM audit_events ORDER BY id")),
            set_aside=tuple(
                SetAsideMessage(
                    row["message_id"], row["reason"], row["receive_count"], row["first_seen"], row["last_seen"]
                )
                for row in rows("SELECT * FROM invalid_messages ORDER BY message_id")
            ),
            latest_event=int(latest[0]["seq"]) if latest else 0,
        )


@contextmanager
def held_contents(path: str) -> Iterator[StoreContents]:
    """Yield the contents of the database at path, which no controller may serve until the block ends.

    NoDatabase if there is none (a copy must not start from a new, empty one); AlreadyServed while a controller
    serves it; DatabaseTooNew or DatabaseUnusable as a start would say.
    """
    if not Path(path).is_file():
        raise NoDatabase(f"There is no database at {path}: set CONTROLLER_DATABASE to the controller's SQLite file.")
    serving = db.claim_serving(path)
    try:
        db.init_db(path)
        connection = db.connect(path)
        try:
            yield read_contents(connection)
        finally:
            connection.close()
    finally:
        serving.close()
