"""SQLite storage: one connection per request context, schema from schema.sql."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from flask import Flask, current_app, g


def connect(path: str) -> sqlite3.Connection:
    """Open the database in autocommit mode, ready for several processes at once."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # a stored request must survive a crash before its SQS delete
    return connection


def get_db() -> sqlite3.Connection:
    """Return this request's connection, opening it on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    """Close this request's connection, if it opened one."""
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def init_db(path: str) -> None:
    """Create the tables if they do not exist yet."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = connect(path)
    connection.executescript(resources.files("controller").joinpath("schema.sql").read_text())
    connection.close()


def now() -> str:
    """Return the current UTC time as ISO 8601, the format every timestamp column uses."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def init_app(app: Flask) -> None:
    """Create the schema and close connections after each request."""
    init_db(app.config["DATABASE"])
    app.teardown_appcontext(close_db)
