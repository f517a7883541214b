"""The store under test: one fixture, parametrised by implementation, so that every one runs the same contract.

Another implementation joins by adding an entry to BACKENDS: a function that returns a fresh, migrated,
empty backend of its kind (it may ask `request` for fixtures such as the emulator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.interface import Backend, Store
from controller.storage.sqlite import SqliteBackend
from harness.emulator import Emulator
from harness.tables import new_approvals_table


def sqlite_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return SqliteBackend(str(tmp_path / "store.sqlite3"))


def dynamodb_backend(request: pytest.FixtureRequest, tmp_path: Path) -> DynamoDbBackend:
    """A new table of the approvals table's layout in the session's emulator."""
    emulator: Emulator = request.getfixturevalue("emulator")
    return DynamoDbBackend(emulator.client("dynamodb"), new_approvals_table(emulator))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "sqlite": sqlite_backend,
    "dynamodb": dynamodb_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    made = BACKENDS[request.param](request, tmp_path)
    made.migrate()
    return made


@pytest.fixture
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> DynamoDbBackend:
    """A DynamoDB backend alone, for what only a store that several controllers share must do."""
    made = dynamodb_backend(request, tmp_path)
    made.migrate()
    return made


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    yield opened
    opened.close()
