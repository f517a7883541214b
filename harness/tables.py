"""Approvals tables for tests and the benchmark: a fresh one in the emulator, of the layout stack.json gives."""

from __future__ import annotations

import uuid

from emulator.provision.table import create_approvals_table
from harness.emulator import Emulator
from stack.definition import load_stack

SHARED_SECRET = "a secret every controller of one test table signs its sessions with"


def new_approvals_table(emulator: Emulator) -> str:
    """Create an empty approvals table in the emulator, named uniquely; return its name."""
    name = f"approvals-{uuid.uuid4().hex[:12]}"
    create_approvals_table(emulator.client("dynamodb"), load_stack()["approvals_table"], name)
    return name


def dynamodb_settings(emulator: Emulator) -> dict[str, str]:
    """Return the config of a controller on a fresh approvals table: the store, the table, the shared secret."""
    return {"STORE": "dynamodb", "DYNAMODB_TABLE": new_approvals_table(emulator), "SECRET_KEY": SHARED_SECRET}
