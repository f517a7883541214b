"""Reads an execution's status and brings a stored request in line with it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller.core import states
from controller.core.errors import AwsUnavailable
from controller.storage import store

REJECTION_ERROR = "Rejected"  # the state machine's Catch routes this error to its Rejected state
TIMEOUT_ERROR = "ApprovalTimedOut"


def describe(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    """Return DescribeExecution's answer, None when the execution does not exist; AwsUnavailable otherwise."""
    try:
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return None  # nothing can be asked about it again, so the request is closed
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    except BotoCoreError as error:
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    return description


def status_of(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> dict[str, Any]:
    """Return a request's execution {status, error, cause}: kept once it has ended, else asked for.

    DOES_NOT_EXIST when the execution is gone; AwsUnavailable when AWS could not be asked.
    """
    if row["final_execution"]:
        kept: dict[str, Any] = json.loads(row["final_execution"])
        return kept
    execution = describe(sfn, row["execution_arn"])
    if execution is None:
        status = {"status": "DOES_NOT_EXIST", "error": None, "cause": None}
    else:
        status = {"status": execution["status"], "error": execution.get("error"), "cause": execution.get("cause")}
    if status["status"] != "RUNNING":
        store.keep_final_execution(db, row["id"], status)
    return status


def outcome_of(row: sqlite3.Row, execution: dict[str, Any] | None) -> tuple[str, str | None]:
    """Return (state, reason) a request ends in, given its execution that is no longer running."""
    if execution is None:
        return states.CLOSED, "The execution no longer exists."
    status, error = execution["status"], execution.get("error")
    if status == "FAILED" and error == TIMEOUT_ERROR:
        return states.EXPIRED, store.TIMED_OUT
    if status == "SUCCEEDED" or (status == "FAILED" and error == REJECTION_ERROR):
        taken = states.APPROVED if status == "SUCCEEDED" else states.REJECTED
        if taken == states.DECIDED_BY.get(row["decision"]):
            return taken, None
        return states.CLOSED, f"The execution was {taken} outside this controller."
    return states.CLOSED, f"The execution is {status} ({error or 'no error'}) without a decision from this controller."


def settle_pending(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> None:
    """Close a pending request whose execution stopped waiting (gone, aborted); else note the check."""
    execution = describe(sfn, row["execution_arn"])
    if execution is not None and execution["status"] == "RUNNING":
        store.touch(db, row["id"])
    else:
        store.finish(db, row["id"], *outcome_of(row, execution), from_state=states.PENDING)
