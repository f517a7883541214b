"""SQLite connections, and a schema that upgrades in place.

The schema is the ordered SQL files in migrations/; `PRAGMA user_version` records how many
have been applied. Each start applies the missing ones in one transaction.

When the file or the disk under it fails (full, read-only, I/O error, locked too long), every
statement raises StoreUnavailable, and the failure is noted in the file's Health, which the
/health route and the background pull read: nothing is taken from SQS that cannot be stored.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TypeAlias, TypedDict, TypeVar, overload

from controller.core.config import ConfigurationError
from controller.core.errors import StoreUnavailable
from controller.storage.records import Health, now

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem
    from typing_extensions import Unpack

    # a statement's values, in order or by name: sqlite3 adapts each, and refuses one it has no adapter for
    Parameters: TypeAlias = SupportsLenAndGetItem[object] | Mapping[str, object]

log = logging.getLogger(__name__)
CursorT = TypeVar("CursorT", bound=sqlite3.Cursor)
# SQLite's own words for a file or disk that fails, as opposed to a query that is wrong
FILE_FAILURES = (
    "database or disk is full",
    "attempt to write a readonly database",
    "disk I/O error",
    "unable to open database file",
    "database is locked",
    "database disk image is malformed",
    "file is not a database",
)


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


_health: dict[str, Health] = {}
_health_lock = threading.Lock()


def health(path: str) -> Health:
    """Return the health of the database at path, shared by every connection of this process to it."""
    with _health_lock:
        return _health.setdefault(path, Health())


def health_of(connection: sqlite3.Connection) -> Health:
    """Return the health of the database a connection made by connect() is open on."""
    if not isinstance(connection, Connection):
        raise TypeError("the store's connections come from controller.storage.db.connect")
    return health(connection.path)


def mark_writable(connection: sqlite3.Connection) -> None:
    """Note that the database a connection is open on took a write again."""
    noted = health_of(connection)
    if noted.failure is not None:
        log.warning("the database can be written again; it failed from %s: %s", noted.since, noted.failure)
    noted.failure = noted.since = None


def _unavailable(path: str, error: sqlite3.DatabaseError) -> StoreUnavailable | None:
    """Return StoreUnavailable for a failure of the file or disk (noting it in the file's health), else None."""
    reason = str(error)
    if not reason.startswith(FILE_FAILURES):
        return None
    noted = health(path)
    if noted.failure is None:
        noted.since = now()
        log.error("the database %s cannot be used: %s", path, reason)
    noted.failure = reason
    return StoreUnavailable(
        f"The approval store cannot be used: {reason}. Nothing was changed; new requests wait on the queue"
        " and are taken once it recovers, by itself. Try again later.",
        reason=reason,
    )


@contextmanager
def _translated(path: str) -> Iterator[None]:
    """Raise StoreUnavailable for a failure of the file or disk met in the block; other errors as they are."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        unavailable = _unavailable(path, error)
        if unavailable is None:
            raise
        raise unavailable from error


class Cursor(sqlite3.Cursor):
    """A cursor whose every step, where SQLite reads and writes the file, translates its failures.

    A fetch steps too: an UPDATE ... RETURNING commits (and can meet a full disk) only at its last row.
    """

    connection: Connection

    def execute(self, sql: str, parameters: Parameters = (), /) -> Cursor:
        with _translated(self.connection.path):
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Parameters], /) -> Cursor:
        with _translated(self.connection.path):
            return super().executemany(sql, parameters)

    def fetchone(self) -> sqlite3.Row | None:
        with _translated(self.connection.path):
            row: sqlite3.Row | None = super().fetchone()
            return row

    def fetchmany(self, size: int | None = 1) -> list[sqlite3.Row]:
        with _translated(self.connection.path):
            rows: list[sqlite3.Row] = super().fetchmany(size)
            return rows

    def fetchall(self) -> list[sqlite3.Row]:
        with _translated(self.connection.path):
            rows: list[sqlite3.Row] = super().fetchall()
            return rows

    def __next__(self) -> sqlite3.Row:
        with _translated(self.connection.path):
            row: sqlite3.Row = super().__next__()
            return row


class ConnectOptions(TypedDict, total=False):
    """What sqlite3.connect passes a connection factory besides the database."""

    timeout: float
    detect_types: int
    isolation_level: Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None  # None: autocommit
    check_same_thread: bool
    factory: type[sqlite3.Connection]
    cached_statements: int
    uri: bool


class Connection(sqlite3.Connection):
    """A connection that turns failures of the file or disk into StoreUnavailable, on every cursor; its rows are
    sqlite3.Row, read by column name."""

    def __init__(self, database: str, **options: Unpack[ConnectOptions]) -> None:
        super().__init__(database, **options)
        self.path = database
        self.row_factory = sqlite3.Row

    @overload
    def cursor(self, factory: None = None) -> Cursor: ...

    @overload
    def cursor(self, factory: Callable[[sqlite3.Connection], CursorT]) -> CursorT: ...

    def cursor(self, factory: Callable[[sqlite3.Connection], sqlite3.Cursor] | None = None) -> sqlite3.Cursor:
        return super().cursor(factory or Cursor)

    def execute(self, sql: str, parameters: Parameters = (), /) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Parameters], /) -> Cursor:
        return self.cursor().executemany(sql, parameters)


def connect(path: str) -> Connection:
    """Open the database in autocommit mode, ready for several processes at once."""
    try:
        connection = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False, factory=Connection
        )
    except sqlite3.DatabaseError as error:
        raise _unavailable(path, error) or error from error
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
        connection.execute("COMMIT")
    except BaseException:
        # a COMMIT that failed (a full disk) may leave the transaction open; the next one must not join it
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


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


def _unusable(path: Path, error: BaseException) -> DatabaseUnusable:
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


def init_db(path: str) -> int:
    """Create the database, or bring an older one up to date, and return its version; DatabaseUnusable says why
    the file cannot be."""
    where = Path(path)
    _refuse_emptied(where)
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        connection = connect(path)
        try:
            return migrate(connection)
        finally:
            connection.close()
    except (sqlite3.Error, OSError, StoreUnavailable) as error:
        cause = error.__cause__ if isinstance(error, StoreUnavailable) and error.__cause__ else error
        raise _unusable(where, cause) from error


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
