"""DynamoDB: where moto's answers differ from AWS's."""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from emulator.patches.replacing import Fix, Replacements


def _one_call_at_a_time(replacements: Replacements) -> None:
    serve = DynamoHandler.call_action
    lock = threading.Lock()  # held for each DynamoDB call the emulator serves

    @functools.wraps(serve)
    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return serve(self)

    replacements.attribute(DynamoHandler, "call_action", call_action)


FIXES = (
    Fix(
        "dynamodb_serves_one_call_at_a_time",
        moto="TransactWriteItems deep-copies each table it touches and, when cancelled, puts the copy back: "
        "a write another client made meanwhile is lost although it was acknowledged (moto has no lock)",
        aws="an acknowledged write is never lost; each call is isolated from the others",
        canary="tests/test_emulator_dynamodb.py",
        install=_one_call_at_a_time,
    ),
)
