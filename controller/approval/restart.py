"""At start-up, before serving: close the pending requests whose executions no longer exist.

The controller's database outlives the emulator, which starts empty: without this, a restart leaves
the previous run's requests "pending" until the next liveness check, and `/approve` without an id
answers SeveralPending about executions that are gone.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from controller.approval import executions
from controller.core import states
from controller.core.errors import AwsUnavailable
from controller.storage.interface import Backend, Store
from controller.storage.records import ApprovalRequest

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)

EMULATOR_RESTARTED = "The emulator was restarted; its executions are gone."
CHECKED_BEFORE_SERVING = 20  # DescribeExecution calls start-up waits for; a thread checks the rest


def _state_machine_of(execution_arn: str) -> str | None:
    """arn:aws:states:<region>:<account>:execution:<machine>:<name> -> that state machine's ARN."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        return None
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def _has_no_executions(sfn: SFNClient, state_machine_arn: str) -> bool:
    try:
        listed = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1)
    except ClientError as error:
        if error.response["Error"]["Code"] == "StateMachineDoesNotExist":
            return True
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    except BotoCoreError as error:
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    return not listed["executions"]


def _close_restarted(store: Store, sfn: SFNClient, pending: list[ApprovalRequest]) -> list[ApprovalRequest]:
    """Close, with one ListExecutions per state machine, the requests of state machines that have no
    execution at all (an emulator started since); return the others."""
    by_machine: dict[str | None, list[ApprovalRequest]] = defaultdict(list)
    for request in pending:
        by_machine[_state_machine_of(request.execution_arn)].append(request)
    others = by_machine.pop(None, [])
    for machine, requests in by_machine.items():
        if not _has_no_executions(sfn, machine):  # type: ignore[arg-type]  # None was popped
            others.extend(requests)
            continue
        for request in requests:
            store.finish(request.id, states.CLOSED, EMULATOR_RESTARTED, from_state=states.PENDING)
        log.info("closed %d pending requests: %s", len(requests), EMULATOR_RESTARTED)
    return others


def _settle(store: Store, sfn: SFNClient, requests: list[ApprovalRequest]) -> None:
    for request in requests:
        executions.settle_pending(store, sfn, request)


def close_gone(backend: Backend, sfn: SFNClient, from_emulator: bool) -> threading.Thread | None:
    """Close pending requests whose executions are gone: against an emulator, in bulk per state machine
    that has no executions; then by DescribeExecution, the first CHECKED_BEFORE_SERVING before returning
    and the rest in a thread, which is returned. AWS unreachable: left to the background upkeep."""
    with closing(backend.open()) as store:
        try:
            pending = store.pending()
            if from_emulator and pending:
                pending = _close_restarted(store, sfn, pending)
            _settle(store, sfn, pending[:CHECKED_BEFORE_SERVING])
        except AwsUnavailable as error:
            log.warning("start-up could not check pending requests' executions (%s); the upkeep will", error)
            return None
    rest = pending[CHECKED_BEFORE_SERVING:]
    if not rest:
        return None

    def settle_rest() -> None:
        with closing(backend.open()) as store:
            try:
                _settle(store, sfn, list(_still_pending(store, rest)))
            except AwsUnavailable as error:
                log.warning("checking pending requests' executions stopped (%s); the upkeep will go on", error)

    thread = threading.Thread(target=settle_rest, name="startup-liveness", daemon=True)
    thread.start()
    return thread


def _still_pending(store: Store, requests: list[ApprovalRequest]) -> Iterator[ApprovalRequest]:
    for request in requests:
        current = store.get_request(request.id)
        if current is not None and current.state == states.PENDING:
            yield current
