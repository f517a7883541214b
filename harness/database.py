"""What tests read straight from a controller's SQLite file, as no client of the controller can: task tokens above all.

Each read opens its own read-only connection and closes it before returning, so nothing is left for
the garbage collector (a ResourceWarning under pytest's warnings-as-errors) and no lock outlives it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def _read(database: Path | str, query: str) -> dict[str, str]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return dict(connection.execute(query).fetchall())


def stored_task_tokens(database: Path | str) -> dict[str, str]:
    """Return each stored request's task token by request id."""
    return _read(database, "SELECT id, task_token FROM approval_requests")


def stored_states(database: Path | str) -> dict[str, str]:
    """Return each stored request's state by request id."""
    return _read(database, "SELECT id, state FROM approval_requests")
