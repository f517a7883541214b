"""Which store the controller uses, from its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.storage.interface import Backend
from controller.storage.sqlite import SqliteBackend


def backend_for(config: Mapping[str, Any]) -> Backend:
    """Return the configured backend: the SQLite file at DATABASE. Opening it does no I/O yet."""
    return SqliteBackend(config["DATABASE"])
