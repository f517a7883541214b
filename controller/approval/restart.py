"""At start-up, before serving: close the pending requests whose executions no longer exist.

The controller's database outlives the emulator, which starts empty: without this, a restart leaves
the previous run's requests "pending" until the next liveness check, and `/approve` without an id
answers SeveralPending about executions that are gone.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller.approval import executions
from controller.core import states
from controller.core.errors import AwsUnavailable
from controller.storage import store
from controller.storage.db import transaction

log = logging.getLogger(__name__)

EMULATOR_RESTARTED = "The emulator was restarted; its executions are gone."
CHECKED_BEFORE_SERVING = 20  # DescribeExecution calls start-up waits for; a thread checks the rest


def _state_machine_of(execution_arn: str) -> str | None:
    """arn:aws:states:<region>:<account>:execution:<machine>:<name> -> that state machine's ARN."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        return None
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def _has_no_executions(sfn: Any, state_machine_arn: str) -> bool:
    try:
        listed = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1)
    except ClientError as error:
        if error.response["Error"]["Code"] == "StateMachineDoesNotExist":
            return True
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    except BotoCoreError as error:
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    return not listed["executions"]


def _close_restarted(db: sqlite3.Connection, sfn: Any, pending: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """Close, with one ListExecutions per state machine, the requests of state machines that have no
    execution at all (an emulator started since); return the others."""
    by_machine: dict[str | None, list[sqlite3.Row]] = defaultdict(list)
    for row in pending:
        by_machine[_state_machine_of(row["execution_arn"])].append(row)
    others = by_machine.pop(None, [])
    for machine, rows in by_machine.items():
        if not _has_no_executions(sfn, machine):  # type: ignore[arg-type]  # None was popped
            others.extend(rows)
            continue
        with transaction(db):
            for row in rows:
                store.finish(db, row["id"], states.CLOSED, EMULATOR_RESTARTED, from_state=states.PENDING)
        log.info("closed %d pending requests: %s", len(rows), EMULATOR_RESTARTED)
    return others


def _settle(db: sqlite3.Connection, sfn: Any, rows: list[sqlite3.Row]) -> None:
    for row in rows:
        executions.settle_pending(db, sfn, row)


def close_gone(
    connect: Callable[[], AbstractContextManager[sqlite3.Connection]], sfn: Any, from_emulator: bool
) -> threading.Thread | None:
    """Close pending requests whose executions are gone: against an emulator, in bulk per state machine
    that has no executions; then by DescribeExecution, the first CHECKED_BEFORE_SERVING before returning
    and the rest in a thread, which is returned. AWS unreachable: left to the background upkeep."""
    with connect() as db:
        try:
            pending = store.pending(db)
            if from_emulator and pending:
                pending = _close_restarted(db, sfn, pending)
            _settle(db, sfn, pending[:CHECKED_BEFORE_SERVING])
        except AwsUnavailable as error:
            log.warning("start-up could not check pending requests' executions (%s); the upkeep will", error)
            return None
    rest = pending[CHECKED_BEFORE_SERVING:]
    if not rest:
        return None

    def settle_rest() -> None:
        with connect() as db:
            try:
                _settle(db, sfn, list(_still_pending(db, rest)))
            except AwsUnavailable as error:
                log.warning("checking pending requests' executions stopped (%s); the upkeep will go on", error)

    thread = threading.Thread(target=settle_rest, name="startup-liveness", daemon=True)
    thread.start()
    return thread


def _still_pending(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> Iterator[sqlite3.Row]:
    for row in rows:
        current = store.get(db, row["id"])
        if current is not None and current["state"] == states.PENDING:
            yield current
