"""The database upgrades in place: every schema.sql this project ever shipped opens with its rows intact."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from controller.core import states
from controller.storage.db import MIGRATIONS, DatabaseTooNew, connect, init_db
from controller.storage.records import Decision, ExecutionStatus
from controller.storage.sqlite import SqliteStore
from harness.controllers import make_newer_than_the_code

UNVERSIONED = sorted((Path(__file__).parents[1] / "data" / "unversioned_schemas").glob("schema-*.sql"))
REQUEST = {
    "id": "exec-1",
    "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:sm:exec-1",
    "task_token": "token-1",
    "order_json": '{"order_id": "ORD-1"}',
    "requested_at": "2026-01-01T10:00:00.000+00:00",
    "expires_at": "2026-01-02T10:00:00.000+00:00",
    "received_at": "2026-01-01T10:00:01.000+00:00",
    "checked_at": "2026-01-01T10:00:01.000+00:00",
    "state": "approved",
    "decision": "approve",
    "approver": "Grace",
    "decided_at": "2026-01-01T11:00:00.000+00:00",
}


def columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def schema_of(path: Path) -> dict[str, set[str]]:
    connection = connect(str(path))
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    described = {table: columns(connection, table) for table in tables}
    connection.close()
    return described


def test_every_unversioned_schema_from_history_is_kept_as_a_fixture():
    assert len(UNVERSIONED) == 4


@pytest.mark.parametrize("schema_file", UNVERSIONED, ids=lambda path: path.stem)
def test_a_database_from_an_earlier_schema_upgrades_with_its_rows_intact(schema_file, tmp_path):
    old = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(old)
    connection.executescript(schema_file.read_text())
    connection.execute(
        f"INSERT INTO approval_requests ({', '.join(REQUEST)}) VALUES ({', '.join('?' * len(REQUEST))})",
        tuple(REQUEST.values()),
    )
    had_invalid_messages = "invalid_messages" in {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    if had_invalid_messages:
        connection.execute("INSERT INTO invalid_messages VALUES ('m-1', 'not JSON', 3, 'a', 'b')")
    connection.commit()
    connection.close()
    fresh = tmp_path / "fresh.sqlite3"

    init_db(str(old))
    init_db(str(fresh))
    init_db(str(old))  # a second start finds nothing to do

    assert schema_of(old) == schema_of(fresh)
    upgraded = connect(str(old))
    assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    row = upgraded.execute("SELECT * FROM approval_requests WHERE id = 'exec-1'").fetchone()
    assert {key: row[key] for key in REQUEST} == REQUEST
    assert (row["claimed_at"], row["final_execution"]) == (None, None)
    # what a text search looks in, written for the rows stored before it existed (migration 0013)
    assert row["search_text"] == "exec-1\x1ford-1\x1f\x1f\x1f"
    store = SqliteStore(upgraded)
    request = store.get_request("exec-1")
    assert (request.state, request.decision, request.order) == (
        "approved",
        Decision("approve", "Grace"),
        {"order_id": "ORD-1"},
    )
    if had_invalid_messages:
        assert [m.message_id for m in store.invalid_messages(10)] == ["m-1"]
    store.keep_final_execution("exec-1", ExecutionStatus("SUCCEEDED"))  # the newest column takes writes
    assert store.get_request("exec-1").final_execution == ExecutionStatus("SUCCEEDED")
    store.close()


def test_a_database_newer_than_the_code_refuses_to_open_and_says_why(tmp_path):
    database = tmp_path / "newer.sqlite3"
    make_newer_than_the_code(database)

    with pytest.raises(DatabaseTooNew, match="newer than this controller knows"):
        init_db(str(database))
    check = connect(str(database))
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1  # left as it was
    check.close()


def test_the_state_check_in_the_schema_lists_exactly_the_states_the_code_uses():
    listed = re.search(r"CHECK \(state IN \(([^)]*)\)\)", "".join(MIGRATIONS))
    assert listed is not None
    assert tuple(re.findall(r"'(\w+)'", listed.group(1))) == states.ALL
