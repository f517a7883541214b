"""Copying an SQLite store into the table: every record in every state comes out of the table as the database
gives it, a second copy writes nothing, and a table with other data is refused before any write."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from controller.core import states
from controller.storage.db import MIGRATIONS
from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.dynamodb.copying import CopyRefused, copy_contents
from controller.storage.interface import Store
from controller.storage.records import Approval, AuditAttempt, Decision, RequestQuery
from controller.storage.sqlite import SqliteBackend
from controller.storage.sqlite_contents import NoDatabase, held_contents
from harness.store_records import at, new_request


def copied(database: Path, shared: DynamoDbBackend) -> tuple[dict[str, int], int, int]:
    """Copy the database into the table; return the counts, the items written and the event number continued."""
    with held_contents(str(database)) as contents:
        report = copy_contents(shared.dynamodb, shared.table, contents)
    return report.counts, report.written, report.latest_event


def populate(store: Store) -> list[str]:
    """Requests in every state, with approvals, follow-ups, notifications, a user and the audit trail."""
    approved, rejected, deciding, counted, reminded, expired = (new_request() for _ in range(6))
    reminded = replace(reminded, remind_at=at(-5), escalate_at=at(600))
    expired = replace(expired, expires_at=at(-1))
    for request in (approved, rejected, deciding, counted, reminded, expired):
        store.save_request(request, notify=True)
    store.add_user("Grace", "approver", "scrypt$hash", "sha256$token", ["finance"])
    store.claim(approved.id, Decision("approve", "Grace", "fine"))
    store.finish(approved.id, states.APPROVED, None, states.DECIDING)
    store.claim(rejected.id, Decision("reject", "Grace", None, "too dear"))
    store.finish(rejected.id, states.REJECTED, None, states.DECIDING)
    store.claim(deciding.id, Decision("approve", "Grace"))
    store.add_approval(counted.id, Approval("Ann", at(-2), "one of two"), required=2)
    store.take_follow_up(reminded.id, "reminder", notify=True)
    store.expire_overdue(expired.id)
    store.notification_sent(approved.id)
    store.notification_failed(rejected.id, "410 gone", retry_in_seconds=None)
    store.notification_failed(deciding.id, "503 busy", retry_in_seconds=60)
    store.record_attempt(AuditAttempt("Grace", "approver", "127.0.0.1", "approve", approved.id, 200, "approved"))
    store.record_attempt(AuditAttempt(None, None, "10.0.0.9", "approve", None, 403, "refused"))
    store.set_aside("message-1", "not JSON", 2)
    return [request.id for request in (approved, rejected, deciding, counted, reminded, expired)]


def test_every_record_comes_out_of_the_table_as_the_database_gives_it(tmp_path: Path, shared: DynamoDbBackend) -> None:
    database = tmp_path / "approvals.sqlite3"
    source = SqliteBackend(str(database))
    source.migrate()
    with closing(source.open()) as store:
        ids = populate(store)

    counts, written, latest = copied(database, shared)

    assert counts == {
        "users": 1,
        "requests": 6,
        "approvals": 1,
        "follow-ups": 1,  # the escalation still to come; the reminder was taken
        "notifications": 7,
        "audit records": 2,
        "set-aside messages": 1,
    }
    assert written == sum(counts.values()) + 3  # and the sign-in state, the event and audit numbering
    with closing(source.open()) as kept, closing(shared.open()) as table:
        for request_id in ids:
            assert table.get_request(request_id) == kept.get_request(request_id)
            assert table.approvals(request_id) == kept.approvals(request_id)
            assert table.audit_trail(request_id) == kept.audit_trail(request_id)
        for query in (RequestQuery(states.ENDED, sort="ended"), RequestQuery((states.PENDING,), sort="newest")):
            assert table.find_requests(query, 100) == kept.find_requests(query, 100)
        assert table.pending() == kept.pending()
        assert table.stale_claims(0) == kept.stale_claims(0)
        assert table.recent_ended() == kept.recent_ended()
        assert table.due_notifications(10) == kept.due_notifications(10)
        assert table.notification_counts() == kept.notification_counts()
        assert table.users() == kept.users()
        assert table.sign_in_state() == "on"
        assert table.invalid_messages(10) == kept.invalid_messages(10)
        assert table.ended_counts() == kept.ended_counts()
        assert table.event_range() == (0, 0)  # no event is copied: a page that comes over reloads (reset)
        table.save_request(new_request())
        assert table.event_range() == (latest + 1, latest + 1)
        table.record_attempt(AuditAttempt("Grace", "approver", None, "approve", ids[3], 200, "approved"))
        assert [event.id for event in table.audit_trail(ids[3])] == [3]  # after the two copied


def test_a_second_copy_writes_nothing_and_counts_the_same(tmp_path: Path, shared: DynamoDbBackend) -> None:
    database = tmp_path / "approvals.sqlite3"
    source = SqliteBackend(str(database))
    source.migrate()
    with closing(source.open()) as store:
        populate(store)
    counts, _, latest = copied(database, shared)

    assert copied(database, shared) == (counts, 0, latest)


def test_a_table_served_since_the_copy_is_refused_with_what_changed_and_nothing_written(
    tmp_path: Path, shared: DynamoDbBackend
) -> None:
    database = tmp_path / "approvals.sqlite3"
    source = SqliteBackend(str(database))
    source.migrate()
    with closing(source.open()) as store:
        ids = populate(store)
    copied(database, shared)
    with closing(shared.open()) as table:
        table.release(ids[2])  # a controller on the table finished the claim, by giving it back
    with closing(source.open()) as store:
        store.save_request(new_request())  # and the database went on too

    with pytest.raises(CopyRefused, match=f"request {ids[2]} differs .*state"):
        copied(database, shared)

    with closing(shared.open()) as table:
        assert len(table.pending()) == 3  # the release; the database's new request was not written


def test_a_missing_database_is_not_made_by_copying_it(tmp_path: Path) -> None:
    with pytest.raises(NoDatabase, match="There is no database at"), held_contents(str(tmp_path / "none.sqlite3")):
        pass

    assert not (tmp_path / "none.sqlite3").exists()


def test_two_users_whose_names_are_one_on_the_table_are_refused_before_any_write(
    tmp_path: Path, shared: DynamoDbBackend
) -> None:
    # a database from before names were folded (migration 0009) could hold both
    database = tmp_path / "approvals.sqlite3"
    old = sqlite3.connect(database)
    for script in MIGRATIONS[:8]:
        old.executescript(script)
    old.executescript(
        "PRAGMA user_version = 8;"
        "INSERT INTO users VALUES ('Grace', 'approver', 'h1', 't1', '2024-01-01T00:00:00.000+00:00');"
        "INSERT INTO users VALUES ('grace', 'viewer', 'h2', 't2', '2024-01-02T00:00:00.000+00:00');"
    )
    old.close()

    with pytest.raises(CopyRefused, match="user Grace and user grace would be one item"):
        copied(database, shared)

    with closing(shared.open()) as table:
        assert (table.users(), table.sign_in_state()) == ([], "open")
