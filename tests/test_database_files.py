"""Database files that cannot be used, and a second controller on one: refused at start-up, from the operator's
side, with the file, the cause and what to do."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller import create_app
from controller.storage.db import MIGRATIONS, connect
from harness.controllers import (
    add_user,
    controller_environment,
    make_newer_than_the_code,
    offline_config,
    users_command,
)
from harness.emulator import stop
from harness.waiting import free_port


def _damage(database: Path, how: str) -> None:
    if how == "emptied":
        database.write_bytes(b"")
    elif how == "garbage":
        database.write_bytes(b"this is not a database, it is a note\n" * 200)
    else:  # read-only, even for root: immutable
        subprocess.run(["chattr", "+i", str(database)], check=True)


@pytest.mark.parametrize(
    ("how", "advice"),
    [
        ("emptied", "is empty (0 bytes)"),
        ("garbage", "restore it from a backup"),
        ("read-only", "must be able to write"),
    ],
)
def test_a_damaged_database_is_refused_with_its_path_and_what_to_do(stack, tmp_path, how, advice):
    if how == "read-only" and shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    database = tmp_path / "approvals.sqlite3"
    add_user(database, "Ada")  # a database with a user in it, which must never start again as a new one
    _damage(database, how)
    try:
        started = subprocess.run(
            [sys.executable, "-m", "controller"],
            env=controller_environment(stack.emulator, stack.queue_url, database),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        listed = users_command(database, "list")
    finally:
        subprocess.run(["chattr", "-i", str(database)], check=False, capture_output=True)

    for refused in (started, listed):
        assert refused.returncode != 0
        assert str(database) in refused.stderr and advice in refused.stderr
        assert "Traceback" not in refused.stderr
    assert how != "emptied" or database.stat().st_size == 0  # not made into a new, empty database


def test_a_second_controller_on_one_sqlite_database_is_refused_at_start(stack, tmp_path):
    database = tmp_path / "approvals.sqlite3"
    first_env = controller_environment(stack.emulator, stack.queue_url, database, PORT=str(free_port()))
    serve = [sys.executable, "-m", "controller"]
    with subprocess.Popen(serve, env=first_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as first:
        try:
            assert "controller ready" in first.stdout.readline()
            second = subprocess.run(
                serve,
                env={**first_env, "CONTROLLER_PORT": str(free_port())},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            stop(first)

    assert second.returncode != 0
    assert "Another controller" in second.stderr and str(database) in second.stderr


def test_a_database_newer_than_the_code_is_refused_at_start_and_left_as_it_was(tmp_path):
    database = tmp_path / "newer.sqlite3"
    make_newer_than_the_code(database)

    served = subprocess.run(
        [sys.executable, "-m", "controller"],
        env={
            "APPROVAL_QUEUE_URL": "http://127.0.0.1:9/q",
            "AWS_REGION": "eu-west-1",
            "CONTROLLER_DATABASE": str(database),
            "PATH": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert served.returncode != 0
    assert "newer than this controller knows" in served.stderr
    check = connect(str(database))
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    check.close()


def test_building_an_app_touches_no_database_and_migrate_brings_it_up_to_date(tmp_path):
    database = tmp_path / "instance" / "approvals.sqlite3"
    create_app(offline_config(database))
    assert not database.parent.exists()

    migrated = subprocess.run(
        [sys.executable, "-m", "controller", "migrate"],
        env={"CONTROLLER_DATABASE": str(database), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert migrated.returncode == 0, migrated.stderr
    assert f"schema version {len(MIGRATIONS)}" in migrated.stdout
    check = connect(str(database))
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    check.close()
