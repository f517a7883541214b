"""CONTROLLER_STORE=dynamodb from the operator's side: real `python -m controller` processes on the emulator's
tables, refused at start with one line saying what to set, several on one table, and a table lost while serving."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from harness.controllers import HTTP_TIMEOUT_SECONDS, TEST_PASSWORD, controller_environment
from harness.emulator import stop
from harness.tables import SHARED_SECRET, new_approvals_table
from harness.waiting import free_port, wait_for

SERVE = [sys.executable, "-m", "controller"]


def _shared(stack, tmp_path, table: str, **settings: str) -> dict[str, str]:
    return controller_environment(
        stack.emulator,
        stack.queue_url,
        tmp_path / "unused.sqlite3",
        STORE="dynamodb",
        DYNAMODB_TABLE=table,
        SECRET_KEY=SHARED_SECRET,
        **settings,
    )


def _run(command: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", [SERVE, [*SERVE, "users", "list"], [*SERVE, "migrate"]])
def test_a_missing_table_is_refused_in_one_line_naming_it_and_what_to_check(stack, tmp_path, command):
    refused = _run(command, _shared(stack, tmp_path, "no-such-table"))

    assert refused.returncode != 0
    assert "no-such-table" in refused.stderr and "ResourceNotFoundException" in refused.stderr
    assert "CONTROLLER_DYNAMODB_TABLE" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert command == SERVE or len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "unused.sqlite3").exists()  # no SQLite store was made instead


def test_a_table_of_another_layout_is_refused(stack, tmp_path):
    stack.emulator.client("dynamodb").create_table(
        TableName="orders-elsewhere",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    refused = _run(SERVE, _shared(stack, tmp_path, "orders-elsewhere"))

    assert refused.returncode != 0
    assert "orders-elsewhere is not an approvals table" in refused.stderr and "Traceback" not in refused.stderr
    assert stack.emulator.client("dynamodb").scan(TableName="orders-elsewhere")["Count"] == 0


def test_without_a_shared_secret_a_controller_on_the_table_does_not_start(stack, tmp_path):
    environment = _shared(stack, tmp_path, new_approvals_table(stack.emulator))
    del environment["CONTROLLER_SECRET_KEY"]

    refused = _run(SERVE, environment)

    assert refused.returncode != 0
    assert "CONTROLLER_SECRET_KEY" in refused.stderr and "every controller" in refused.stderr


def test_the_users_command_needs_no_signing_key_on_the_table(stack, tmp_path):
    """It signs nothing: only serving controllers must share a key."""
    environment = _shared(stack, tmp_path, new_approvals_table(stack.emulator))
    del environment["CONTROLLER_SECRET_KEY"]

    added = _run([*SERVE, "users", "add", "ada", "--role", "approver"], environment, TEST_PASSWORD + "\n")
    listed = _run([*SERVE, "users", "list"], environment)

    assert (added.returncode, listed.returncode) == (0, 0), added.stderr + listed.stderr
    assert "ada" in listed.stdout


def test_two_controllers_serve_one_table_and_a_user_added_once_signs_in_on_both(stack, tmp_path):
    environment = _shared(stack, tmp_path, new_approvals_table(stack.emulator))
    added = _run([*SERVE, "users", "add", "ada", "--role", "approver"], environment, TEST_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    ports = [free_port(), free_port()]
    with (
        subprocess.Popen(SERVE, env={**environment, "CONTROLLER_PORT": str(ports[0])}, stdout=subprocess.PIPE) as a,
        subprocess.Popen(SERVE, env={**environment, "CONTROLLER_PORT": str(ports[1])}, stdout=subprocess.PIPE) as b,
    ):
        try:
            ready = [process.stdout.readline().decode() for process in (a, b) if process.stdout]
            answers = [
                requests.get(
                    f"http://127.0.0.1:{port}/pending", headers=headers, timeout=HTTP_TIMEOUT_SECONDS
                ).status_code
                for port in ports
                for headers in ({"Authorization": f"Bearer {token}"}, {})
            ]
        finally:
            stop(a)
            stop(b)

    assert all("controller ready" in line and environment["CONTROLLER_DYNAMODB_TABLE"] in line for line in ready)
    assert answers == [200, 401, 200, 401]


def test_a_table_lost_while_serving_gets_503_naming_it_not_a_crash(stack, controller_factory):
    table = new_approvals_table(stack.emulator)
    controller = controller_factory(stack, STORE="dynamodb", DYNAMODB_TABLE=table, SECRET_KEY=SHARED_SECRET)
    assert controller.get("/health").json()["status"] == "ok"

    dynamodb = stack.emulator.client("dynamodb")
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=table)
    listed = controller.get("/approvals?state=pending")
    health = wait_for(lambda: (h := controller.get("/health")).status_code == 503 and h.json(), 10, "a failing /health")

    assert listed.status_code == 503 and listed.json()["error"] == "StoreUnavailable"
    assert table in listed.json()["message"] and "ResourceNotFoundException" in listed.json()["message"]
    assert health["status"] == "failing" and "ResourceNotFoundException" in health["store"]
    assert health["since"] and health["sign_in"] is None
