"""Reads an execution's live status and brings a stored request in line with it."""
from __future__ import annotations

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


def _outcome(execution: dict[str, Any] | None) -> tuple[str, str | None]:
    """Map an execution that is no longer waiting to (decision it reflects or state, reason)."""
    if execution is None:
        return "closed", "The execution no longer exists."
    status, error = execution["status"], execution.get("error")
    if status == "SUCCEEDED":
        return "approve", None
    if status == "FAILED" and error == REJECTION_ERROR:
        return "reject", None
    if status == "FAILED" and error == TIMEOUT_ERROR:
        return "expired", store.TIMED_OUT
    return "closed", f"The execution is {status} ({error or 'no error'}) without a decision from this controller."


def settle(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> None:
    """Record how a request ended when its execution is no longer running; else note the check."""
    execution = describe(sfn, row["execution_arn"])
    if execution is not None and execution["status"] == "RUNNING":
        store.touch(db, row["id"])
        return
    _record_outcome(db, row, execution)


def recover_interrupted(db: sqlite3.Connection, sfn: Any) -> None:
    """Finish decisions a crash interrupted: pending again if the execution still waits, else its outcome."""
    for row in db.execute("SELECT * FROM approval_requests WHERE state = 'deciding'").fetchall():
        execution = describe(sfn, row["execution_arn"])
        if execution is not None and execution["status"] == "RUNNING":
            store.release(db, row["id"])
        else:
            _record_outcome(db, row, execution)


def _record_outcome(db: sqlite3.Connection, row: sqlite3.Row, execution: dict[str, Any] | None) -> None:
    outcome, reason = _outcome(execution)
    if outcome in ("approve", "reject"):
        if row["decision"] == outcome:
            store.finish(db, row["id"], "approved" if outcome == "approve" else "rejected")
            return
        outcome, reason = "closed", f"The execution was {outcome}d outside this controller."
    store.finish(db, row["id"], outcome, reason)
