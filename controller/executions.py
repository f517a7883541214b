"""Reads an execution's live status and brings a stored request in line with it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller import store

REJECTION_ERROR = "Rejected"  # the state machine's Catch routes this error to its Rejected state
TIMEOUT_ERROR = "ApprovalTimedOut"


def describe(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    """Return DescribeExecution's answer, or None when the execution does not exist."""
    try:
        return sfn.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise


def live_status(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """Return {status, error, cause}: DOES_NOT_EXIST when gone, status None (and a warning) when AWS is unreachable."""
    try:
        execution = describe(sfn, execution_arn)
    except (ClientError, BotoCoreError) as error:
        return {"status": None, "error": None, "cause": None, "warning": f"AWS could not be reached: {error}"}
    if execution is None:
        return {"status": "DOES_NOT_EXIST", "error": None, "cause": None}
    return {"status": execution["status"], "error": execution.get("error"), "cause": execution.get("cause")}


def execution_of(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> dict[str, Any]:
    """Return a request's execution status: kept from before once it has ended, else asked for (live_status)."""
    if row["final_execution"]:
        return json.loads(row["final_execution"])
    live = live_status(sfn, row["execution_arn"])
    if live["status"] not in (None, "RUNNING"):
        store.keep_final_execution(db, row["id"], live)
    return live


def outcome_of(row: sqlite3.Row, execution: dict[str, Any] | None) -> tuple[str, str | None]:
    """Return (state, reason) a request ends in, given its execution that is no longer running."""
    if execution is None:
        return "closed", "The execution no longer exists."
    status, error = execution["status"], execution.get("error")
    if status == "FAILED" and error == TIMEOUT_ERROR:
        return "expired", store.TIMED_OUT
    if status == "SUCCEEDED" or (status == "FAILED" and error == REJECTION_ERROR):
        taken = "approved" if status == "SUCCEEDED" else "rejected"
        if taken == store.DECIDED_STATES.get(row["decision"]):
            return taken, None
        return "closed", f"The execution was {taken} outside this controller."
    return "closed", f"The execution is {status} ({error or 'no error'}) without a decision from this controller."


def settle_pending(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> None:
    """Close a pending request whose execution stopped waiting (gone, aborted); else note the check."""
    execution = describe(sfn, row["execution_arn"])
    if execution is not None and execution["status"] == "RUNNING":
        store.touch(db, row["id"])
    else:
        store.finish(db, row["id"], *outcome_of(row, execution), from_state="pending")
