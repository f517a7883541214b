"""Looks into a controller's database from a test, closing each connection it opens."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from controller.storage.db import connect


def query(database: Path | str, sql: str, parameters: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Run one statement on the database and return its rows."""
    with contextlib.closing(connect(str(database))) as opened:
        return opened.execute(sql, parameters).fetchall()


def task_tokens(database: Path | str) -> list[str]:
    """Return the task token of every stored request, which no answer of the controller may show."""
    return [row[0] for row in query(database, "SELECT task_token FROM approval_requests")]


def open_connections(database: Path | str) -> int:
    """Return how many connections this process holds open on the database: its descriptors on the file."""
    target = os.path.realpath(database)
    count = 0
    for descriptor in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # closed between listing and reading
            count += os.readlink(descriptor) == target
    return count
