"""Upgrading to the shared store: `python -m controller copy-to-dynamodb` copies a served SQLite database into the
approvals table whole, once however often it runs, refuses a table that holds other data, and the copied requests
are then decided from the table."""

from __future__ import annotations

import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from controller.core import states
from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.interface import Store
from controller.storage.records import AuditAttempt, RequestQuery
from controller.storage.sqlite import SqliteBackend
from emulator.provision.table import create_approvals_table
from harness.controllers import add_user, controller_environment
from harness.emulator import Emulator
from harness.processes import ControllerProcess
from harness.stacks import Stack
from harness.store_records import new_request
from harness.waiting import wait_for
from harness.webhooks import WebhookReceiver
from stack.definition import load_stack

COMMAND = [sys.executable, "-m", "controller", "copy-to-dynamodb"]
SECRET = "s" * 40  # controllers on one table share it


def new_table(emulator: Emulator) -> str:
    name = f"copy-{uuid.uuid4().hex[:12]}"
    create_approvals_table(emulator.client("dynamodb"), load_stack()["approvals_table"], name)
    return name


def copy(
    emulator: Emulator, queue_url: str, database: Path, table: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    """Run the command as an operator would: with the settings the controllers will serve the table with."""
    served = controller_environment(
        emulator, queue_url, database, STORE="dynamodb", DYNAMODB_TABLE=table, SECRET_KEY=SECRET
    )
    return subprocess.run(COMMAND, env=served | environment, capture_output=True, text=True, timeout=120, check=False)


def everything(emulator: Emulator, table: str) -> list[dict[str, Any]]:
    """Every item of the table (a Scan: the test's own view, which the controller never takes)."""
    dynamodb, items, start = emulator.client("dynamodb"), [], {}
    while True:
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def assert_same(source: Store, copied: Store, ids: list[str]) -> None:
    """The table answers every question about the copied data as the database does."""
    for request_id in ids:
        assert copied.get_request(request_id) == source.get_request(request_id)
        assert copied.approvals(request_id) == source.approvals(request_id)
        assert copied.audit_trail(request_id) == source.audit_trail(request_id)
    history = RequestQuery(states.ENDED, sort="ended")
    assert copied.find_requests(history, 100) == source.find_requests(history, 100)
    assert [r.id for r in copied.recent_ended()] == [r.id for r in source.recent_ended()]
    assert copied.users() == source.users()
    assert copied.sign_in_state() == source.sign_in_state()
    assert copied.notification_counts() == source.notification_counts()
    assert copied.ended_counts() == source.ended_counts()
    assert copied.pending_summary() == source.pending_summary()


def counts(output: str) -> list[str]:
    """The lines of the command's report that count what the table holds from the database."""
    return [line for line in output.splitlines() if line.startswith("  ")]


def test_a_served_database_is_copied_whole_once_and_its_requests_are_decided_from_the_table(
    emulator: Emulator, stack: Stack, tmp_path: Path, webhook: WebhookReceiver
) -> None:
    # GIVEN a controller served on SQLite with a user, which stored four requests (and notified each), approved one,
    # rejected one, and crashed while approving a third (left deciding); the fourth waits
    database = tmp_path / "approvals.sqlite3"
    token = add_user(database, "Grace", groups=("finance",))
    settings = {"NOTIFY_WEBHOOK_URL": webhook.url, "SECRET_KEY": SECRET}
    served = ControllerProcess(emulator, stack.queue_url, database, tmp_path / "sqlite.log", token, **settings)
    try:
        served.start()
        served.wait_until_ready()
        approved, rejected, deciding, waiting = names = [stack.start() for _ in range(4)]
        for name in names:
            wait_for(lambda n=name: webhook.for_request(n), 30, f"the notification of {name}")
        assert served.post(f"/approve/{approved}", {"comment": "fine"}).status_code == 200
        assert served.post(f"/reject/{rejected}", {"reason": "no"}).status_code == 200
        served.restart(crash_at="before-call.states.SendTaskSuccess")
        served.wait_until_ready()
        served.call_until_crashed("POST", f"/approve/{deciding}")
    finally:
        served.kill()
    table = new_table(emulator)

    # WHEN it is copied into a new table, and copied again
    first = copy(emulator, stack.queue_url, database, table)
    after_first = everything(emulator, table)
    second = copy(emulator, stack.queue_url, database, table)

    # THEN the table holds the same records, the second run wrote nothing and counted the same
    assert first.returncode == 0, first.stderr
    assert "  requests: 4 (1 pending, 1 deciding, 1 approved, 1 rejected)" in first.stdout
    assert "  users: 1" in first.stdout and "  notifications: 4" in first.stdout
    assert second.returncode == 0, second.stderr
    assert counts(second.stdout) == counts(first.stdout)
    assert "0 items written" in second.stdout
    assert everything(emulator, table) == after_first
    source, shared = SqliteBackend(str(database)), DynamoDbBackend(emulator.client("dynamodb"), table)
    with closing(source.open()) as kept, closing(shared.open()) as copied:
        assert kept.get_request(deciding).state == states.DECIDING
        assert_same(kept, copied, names)

    # AND a controller on the table finishes the decision the crash cut short, takes Grace's token, approves the
    # waiting request, and sends none of the notifications again
    on_table = ControllerProcess(
        emulator,
        stack.queue_url,
        tmp_path / "unused.sqlite3",
        tmp_path / "table.log",
        token,
        STORE="dynamodb",
        DYNAMODB_TABLE=table,
        CLAIM_STALE_SECONDS="1",  # on a shared table a claim is finished once stale, not at every start
        **settings,
    )
    try:
        on_table.start()
        on_table.wait_until_ready()
        assert on_table.post(f"/approve/{waiting}").status_code == 200
        assert stack.wait_until_finished(waiting)["status"] == "SUCCEEDED"
        assert stack.wait_until_finished(deciding)["status"] == "SUCCEEDED"
        assert on_table.get(f"/approvals/{deciding}").json()["request"]["state"] == states.APPROVED
        history = on_table.get("/history.csv").text
        assert all(name in history for name in names)
        fresh = stack.start()  # notified once the table's controller has gone through what was due before it
        wait_for(lambda: webhook.for_request(fresh), 30, "the notification of a request stored on the table")
    finally:
        on_table.kill()
    assert sorted(body["request_id"] for body in webhook.received) == sorted([*names, fresh])
    events = emulator.client("stepfunctions").get_execution_history(executionArn=stack.execution_arn(deciding))[
        "events"
    ]
    approvals = [e for e in events if e.get("taskSucceededEventDetails", {}).get("resourceType") == "sqs"]
    assert len(approvals) == 1  # decided once, by the table's controller


def fill(database: Path, count: int = 1) -> list[str]:
    """Store requests in a database as the controller does when it takes them from the queue; return their ids."""
    backend = SqliteBackend(str(database))
    backend.migrate()
    made = [new_request() for _ in range(count)]
    with closing(backend.open()) as store:
        for request in made:
            store.save_request(request, notify=True)
    return [request.id for request in made]


def test_a_table_holding_a_request_of_another_store_is_refused_and_left_unchanged(
    emulator: Emulator, stack: Stack, tmp_path: Path
) -> None:
    database, table = tmp_path / "approvals.sqlite3", new_table(emulator)
    fill(database)
    theirs = new_request()
    with closing(DynamoDbBackend(emulator.client("dynamodb"), table).open()) as other:
        other.save_request(theirs)
    before = everything(emulator, table)

    refused = copy(emulator, stack.queue_url, database, table)

    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"request {theirs.id} is not in the database" in refused.stderr
    assert everything(emulator, table) == before


def test_a_record_changed_on_the_table_since_the_copy_is_named_and_nothing_is_written(
    emulator: Emulator, stack: Stack, tmp_path: Path
) -> None:
    database, table = tmp_path / "approvals.sqlite3", new_table(emulator)
    (first,) = fill(database)
    add_user(database, "Grace")
    assert copy(emulator, stack.queue_url, database, table).returncode == 0
    with closing(DynamoDbBackend(emulator.client("dynamodb"), table).open()) as served:
        served.set_groups("Grace", ["finance"])  # as `users groups` on the table would
        served.record_attempt(AuditAttempt("Grace", "approver", "127.0.0.1", "approve", first, 200, "approved"))
    fill(database)  # and the database went on being served: a request the table never saw
    before = everything(emulator, table)

    refused = copy(emulator, stack.queue_url, database, table)

    assert refused.returncode == 1
    assert "user Grace differs (groups_json)" in refused.stderr
    assert "the audit trail is not the database's" in refused.stderr
    assert everything(emulator, table) == before


@pytest.mark.parametrize(
    ("setting", "environment", "says"),
    [
        ("no database", {"CONTROLLER_DATABASE": "missing.sqlite3"}, "There is no database at"),
        ("no table", {"CONTROLLER_DYNAMODB_TABLE": "no-such-table"}, "no-such-table"),
        ("another region", {"AWS_REGION": "us-west-2"}, "us-west-2"),
        ("the SQLite store", {"CONTROLLER_STORE": "sqlite"}, "CONTROLLER_STORE=dynamodb"),
    ],
)
def test_a_bad_setting_gets_one_line_that_names_it_and_changes_nothing(
    emulator: Emulator, stack: Stack, tmp_path: Path, setting: str, environment: dict[str, str], says: str
) -> None:
    database, table = tmp_path / "approvals.sqlite3", new_table(emulator)
    fill(database)
    environment = {
        key: str(tmp_path / value) if key == "CONTROLLER_DATABASE" else value for key, value in environment.items()
    }

    refused = copy(emulator, stack.queue_url, database, table, **environment)

    assert refused.returncode == 1, setting
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert says in refused.stderr
    assert everything(emulator, table) == []
    assert not (tmp_path / "missing.sqlite3").exists()


def test_a_database_a_controller_still_serves_is_not_copied(emulator: Emulator, stack: Stack, tmp_path: Path) -> None:
    database, table = tmp_path / "approvals.sqlite3", new_table(emulator)
    fill(database)
    served = ControllerProcess(emulator, stack.queue_url, database, tmp_path / "sqlite.log")
    try:
        served.start()
        served.wait_until_ready()
        refused = copy(emulator, stack.queue_url, database, table)
    finally:
        served.kill()

    assert refused.returncode == 1 and "already serves the database" in refused.stderr
    assert everything(emulator, table) == []
