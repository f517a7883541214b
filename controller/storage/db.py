"""SQLite storage: a connection per unit of work, closed when it ends, and a schema that upgrades in place.

The schema is the ordered SQL files in migrations/; `PRAGMA user_version` records how many
have been applied. Each start applies the missing ones in one transaction.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import IO

from flask import Flask, current_app, g

from controller.core.config import ConfigurationError


class DatabaseTooNew(ConfigurationError):
    """The database was written by a newer version of the controller."""


class DatabaseUnusable(ConfigurationError):
    """The database file is there but cannot be used as it is: empty, not a database, or not writable."""


class AlreadyServed(ConfigurationError):
    """Another controller process serves this SQLite database."""


def _migration_scripts() -> list[str]:
    folder = resources.files("controller.storage").joinpath("migrations")
    return [
        entry.read_text() for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".sql")
    ]


MIGRATIONS = _migration_scripts()


def connect(path: str) -> sqlite3.Connection:
    """Open the database in autocommit mode, ready for several processes at once."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # a stored request must survive a crash before its SQS delete
    return connection


@contextmanager
def connection(path: str) -> Iterator[sqlite3.Connection]:
    """Open a connection for one unit of work (a bulk decision's id, a background loop) and close it after."""
    opened = connect(path)
    try:
        yield opened
    finally:
        opened.close()


def get_db() -> sqlite3.Connection:
    """Return the connection the current request uses, opened on first use and closed when the request ends."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    opened: sqlite3.Connection = g.db
    return opened


def close_db(_error: BaseException | None = None) -> None:
    """Close the request's connection, if it opened one."""
    opened: sqlite3.Connection | None = g.pop("db", None)
    if opened is not None:
        opened.close()


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """Run the block's statements as one transaction: all of them, or none after an error.

    Inside a transaction the caller already opened, the block simply becomes part of it.
    """
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration into statements, so that they run inside one transaction (executescript commits)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


def _unversioned_level(connection: sqlite3.Connection) -> int:
    """Return how many migrations a database from before versioning already has.

    Those databases were written by the schema.sql of their day, each a superset of the one
    before it, so the tables and columns present tell how far along it is.
    """
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "approval_requests" not in tables:
        return 0
    columns = {row[1] for row in connection.execute("PRAGMA table_info(approval_requests)")}
    return 1 + ("invalid_messages" in tables) + ("claimed_at" in columns) + ("final_execution" in columns)


def migrate(connection: sqlite3.Connection) -> int:
    """Apply the migrations this database lacks, all or none; return its version afterwards."""
    with transaction(connection):  # one process migrates; the others then find nothing to do
        version: int = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise DatabaseTooNew(
                f"The database is at schema version {version}, newer than this controller knows"
                f" ({len(MIGRATIONS)}): run the newer controller, or point CONTROLLER_DATABASE elsewhere."
            )
        if version == 0:
            version = _unversioned_level(connection)
        for script in MIGRATIONS[version:]:
            for statement in _statements(script):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return len(MIGRATIONS)


def _refuse_emptied(path: Path) -> None:
    """Refuse a database file of 0 bytes: SQLite would take it as a new database, and every user and request
    in it would be gone without a word."""
    if path.is_file() and path.stat().st_size == 0 and not Path(f"{path}-wal").is_file():
        raise DatabaseUnusable(
            f"The database {path} is empty (0 bytes): it was truncated or replaced, and starting on it would"
            " begin again without its users and requests. Restore it from a backup; to start afresh on purpose,"
            " delete the file."
        )


def _unusable(path: Path, error: sqlite3.Error | OSError) -> DatabaseUnusable:
    """Return the error that says what is wrong with the database file and what to do."""
    cause = str(error)
    if "readonly" in cause or "unable to open" in cause or isinstance(error, OSError):
        advice = (
            "the controller must be able to write the file and its folder (for the -wal and -shm files):"
            " check the owner, the permissions and that the disk is mounted writable and has space"
        )
    else:
        advice = "it is damaged or not a database: restore it from a backup, or move it aside to start afresh"
    return DatabaseUnusable(f"The database {path} cannot be used ({cause}); {advice}.")


def init_db(path: str) -> None:
    """Create the database, or bring an older one up to date; DatabaseUnusable says why the file cannot be."""
    where = Path(path)
    _refuse_emptied(where)
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        connection = connect(path)
        try:
            migrate(connection)
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as error:
        raise _unusable(where, error) from error


def claim_serving(path: str) -> IO[str]:
    """Hold the lock that says one controller serves this database; AlreadyServed if another one does.

    Two controllers on one SQLite file would both pull the queue and send every notification twice.
    The lock is on a file beside the database and ends with the process, however it ends.
    """
    marker = Path(f"{path}.serving")
    handle = marker.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyServed(
            f"Another controller ({holder}) already serves the database {path}. Stop it first, or give this one"
            " its own CONTROLLER_DATABASE; several controllers can share one store only with a shared store"
            " (docs/operations.md)."
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def now() -> str:
    """Return the current UTC time as ISO 8601, the format every timestamp column uses."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def init_app(app: Flask) -> None:
    """Bring the schema up to date; close each request's connection when its context ends."""
    init_db(app.config["DATABASE"])
    app.teardown_appcontext(close_db)
