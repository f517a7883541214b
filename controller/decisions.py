"""Approve or reject a stored request: one claim in the database, one call to Step Functions."""
from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller import executions, store
from controller.db import now
from controller.errors import AlreadyDecided, AwsUnavailable, InvalidInput, RequestExpired, RequestNotFound

# Step Functions' answers for a token that can no longer be used; moto says InvalidToken
# where AWS says TaskTimedOut, so all of them mean the same here.
TOKEN_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
OUTCOMES = {"approve": "approved", "reject": "rejected"}
FIELD_LIMITS = {"approver": 100, "comment": 1000, "reason": 1000}
SURROGATE = re.compile("[\ud800-\udfff]")  # JSON may escape one alone ("\\ud800"); SQLite cannot store it


def validate(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Return the decision for kind ("approve"/"reject") from its optional fields; InvalidInput if they are wrong."""
    allowed = ("approver", "comment", "reason") if kind == "reject" else ("approver", "comment")
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise InvalidInput(f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}.")
    for field, value in fields.items():
        if not isinstance(value, str) or len(value) > FIELD_LIMITS[field]:
            raise InvalidInput(f"'{field}' must be text of at most {FIELD_LIMITS[field]} characters.")
        if SURROGATE.search(value):
            raise InvalidInput(f"'{field}' must be Unicode text; an unpaired surrogate (\\ud800-\\udfff) is not.")
    return {"decision": kind, **{field: fields.get(field) or None for field in ("approver", "comment", "reason")}}


def _refuse_closed(db: sqlite3.Connection, row: sqlite3.Row) -> None:
    """Raise the error that explains why a request that is not pending cannot be decided."""
    if row["state"] in ("approved", "rejected"):
        raise AlreadyDecided(
            f"Request {row['id']} was already {row['state']} at {row['decided_at']}"
            + (f" by {row['approver']}." if row["approver"] else "."),
            state=row["state"],
            decided_at=row["decided_at"],
        )
    if row["state"] == "deciding":
        raise AlreadyDecided(f"Request {row['id']} is being decided by another call.", state="deciding")
    raise RequestExpired(
        f"Request {row['id']} can no longer be decided: {row['closed_reason']}", state=row["state"]
    )


def _send(sfn: Any, row: sqlite3.Row, decision: dict[str, Any]) -> None:
    if decision["decision"] == "approve":
        output = {"status": "APPROVED", "approver": decision["approver"], "comment": decision["comment"]}
        sfn.send_task_success(taskToken=row["task_token"], output=json.dumps(output))
    else:
        sfn.send_task_failure(
            taskToken=row["task_token"], error=executions.REJECTION_ERROR, cause=decision["reason"] or "Rejected by the approver."
        )


def _settle_spent_token(db: sqlite3.Connection, sfn: Any, request_id: str, decision: dict[str, Any]) -> dict[str, Any]:
    """The token no longer works: perhaps an earlier attempt of this same decision used it, so ask the execution."""
    try:
        executions.settle(db, sfn, store.get(db, request_id))
    except (ClientError, BotoCoreError) as error:
        store.release(db, request_id)
        raise AwsUnavailable(f"Step Functions could not be asked about request {request_id}; try again.") from error
    settled = store.get(db, request_id)
    if settled["state"] == "deciding":
        store.finish(db, request_id, "closed", "The execution no longer accepts a decision for this request.")
        settled = store.get(db, request_id)
    if settled["state"] != OUTCOMES[decision["decision"]]:
        _refuse_closed(db, settled)
    return store.public(settled)


def decide(db: sqlite3.Connection, sfn: Any, request_id: str, decision: dict[str, Any]) -> dict[str, Any]:
    """Send the decision once and record it; return the request as stored afterwards."""
    row = store.get(db, request_id)
    if row is None:
        raise RequestNotFound(f"No approval request with id {request_id}. GET /pending lists the open ones.")
    if row["state"] == "pending" and row["expires_at"] <= now():
        store.finish(db, request_id, "expired", store.TIMED_OUT)
    if not store.claim(db, request_id, decision):
        _refuse_closed(db, store.get(db, request_id))
    try:
        _send(sfn, row, decision)
    except ClientError as error:
        if error.response["Error"]["Code"] not in TOKEN_GONE:
            store.release(db, request_id)
            raise AwsUnavailable(f"Step Functions did not take the decision; try again. ({error})") from error
        return _settle_spent_token(db, sfn, request_id, decision)
    except BotoCoreError as error:
        store.release(db, request_id)
        raise AwsUnavailable(f"Step Functions could not be reached; try again. ({error})") from error
    store.finish(db, request_id, OUTCOMES[decision["decision"]])
    return store.public(store.get(db, request_id))
