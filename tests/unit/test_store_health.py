"""The store's failures of the file or disk, met through SQLite's own page limit: a write past it fails
with SQLITE_FULL ("database or disk is full"), as on a full disk, without needing one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.core.errors import StoreUnavailable
from controller.storage import db
from controller.storage.records import NewRequest
from controller.storage.sqlite import SqliteBackend, SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    backend = SqliteBackend(str(tmp_path / "approvals.sqlite3"))
    backend.migrate()
    opened = backend.open()
    yield opened
    opened.close()


def fill(store: SqliteStore) -> None:
    """Let the database grow by no page more than it has now."""
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages}")


def request(number: int) -> NewRequest:
    return NewRequest(
        id=f"request-{number}",
        execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:sm:request-{number}",
        task_token="token" * 100,
        order={},
        requested_at="2026-01-01T00:00:00.000+00:00",
        expires_at="2099-01-01T00:00:00.000+00:00",
    )


def test_a_write_the_disk_cannot_take_raises_store_unavailable_with_the_reason_and_is_noted(store):
    fill(store)

    with pytest.raises(StoreUnavailable) as raised:
        for number in range(1000):
            store.save_request(request(number))

    assert (raised.value.status, raised.value.details["reason"]) == (503, "database or disk is full")
    assert store.failure() == "database or disk is full"
    assert db.health_of(store.connection).since is not None
    assert not store.connection.in_transaction  # the failed transaction did not stay open for the next one


def test_a_failure_noted_stays_until_a_write_goes_through_again(store):
    fill(store)
    with pytest.raises(StoreUnavailable):
        for number in range(1000):
            store.save_request(request(number))
    assert store.pending()  # reads still work, and do not clear the failure
    assert store.failure() == "database or disk is full"

    store.connection.execute("PRAGMA max_page_count = 1000000")  # space again
    store.check_writable()

    assert store.failure() is None
    assert store.save_request(request(5000))


def test_a_wrong_query_is_no_store_failure(store):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store.connection.execute("SELECT * FROM no_such_table")

    assert store.failure() is None


def test_a_healthy_store_is_not_written_to_by_the_check(store):
    before = store.connection.total_changes

    store.check_writable()

    assert store.connection.total_changes == before
