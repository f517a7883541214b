"""Controllers that share one DynamoDB table: a fresh table of the stack's layout, the settings that put a
controller on it (the same keys in create_app's config and as CONTROLLER_* variables), and its store."""

from __future__ import annotations

import uuid

from controller.storage.dynamodb import DynamoDbBackend
from emulator.provision.table import create_approvals_table
from harness.emulator import Emulator
from stack.definition import load_stack

# the one secret every controller on a table signs sessions with; 64 characters, as openssl rand -hex 32 gives
SHARED_SECRET_KEY = "0123456789abcdef" * 4


def new_table(emulator: Emulator, prefix: str = "shared") -> str:
    """Create an empty table of the approvals table's layout with a unique name; return the name."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    create_approvals_table(emulator.client("dynamodb"), load_stack()["approvals_table"], name)
    return name


def table_backend(emulator: Emulator, table: str) -> DynamoDbBackend:
    """The store on the table, as a controller opens it, for a test to add users or read requests."""
    return DynamoDbBackend(emulator.client("dynamodb"), table)


def shared_settings(table: str) -> dict[str, str]:
    """The settings of a controller on the shared table: for controller_config, or controller_environment."""
    return {"STORE": "dynamodb", "DYNAMODB_TABLE": table, "SECRET_KEY": SHARED_SECRET_KEY}
