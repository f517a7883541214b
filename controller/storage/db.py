"""SQLite connections, and a schema that upgrades in place.

The schema is the ordered SQL files in migrations/; `PRAGMA user_version` records how many
have been applied. Each start applies the missing ones in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from controller.core.config import ConfigurationError


class DatabaseTooNew(ConfigurationError):
    """The database was written by a newer version of the controller."""


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


def init_db(path: str) -> int:
    """Create the database, or bring an older one up to date; return its version afterwards."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = connect(path)
    try:
        return migrate(connection)
    finally:
        connection.close()
