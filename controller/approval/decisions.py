"""Approve or reject a stored request: one claim in the database, one call to Step Functions."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from controller.approval import executions, quorum
from controller.core import states, text
from controller.core.digest import DIGEST, order_digest
from controller.core.errors import (
    AlreadyDecided,
    ApprovalError,
    AwsUnavailable,
    InvalidInput,
    OrderChanged,
    RequestExpired,
    RequestNotFound,
    StoreUnavailable,
)
from controller.storage import store
from controller.storage.db import connection, now

log = logging.getLogger(__name__)
# Step Functions' answers for a token that can no longer be used: TaskTimedOut for one answered or timed
# out, InvalidToken for one it does not know (an emulator restarted since), so all of them mean the same here.
TOKEN_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
SETTLE_POLLS, SETTLE_POLL_SECONDS = 10, 0.2
NOT_SENT = (EndpointConnectionError, ConnectTimeoutError)  # the request never reached AWS
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
        if text.has_hidden(value.replace("\r\n", "\n")):
            raise InvalidInput(
                f"'{field}' must not hold control characters (but tab and newline) or bidi formatting characters."
            )
    return {"decision": kind, **{field: fields.get(field) or None for field in ("approver", "comment", "reason")}}


def expected_digest(fields: dict[str, Any]) -> str | None:
    """Take the optional `expected_order_digest` out of a decision's fields; InvalidInput unless it is a digest."""
    if "expected_order_digest" not in fields:
        return None
    expected = fields.pop("expected_order_digest")
    if not (isinstance(expected, str) and DIGEST.fullmatch(expected)):
        raise InvalidInput("'expected_order_digest' must be the order_digest shown with a request: 64 hex digits.")
    return expected


def check_digest(request_id: str, order: Any, expected: str | None) -> None:
    """Raise OrderChanged when a decision says it saw another order than the one stored."""
    if expected is not None and order_digest(order) != expected:
        raise OrderChanged(
            f"Request {request_id} holds another order than the one you saw (its order_digest differs);"
            f" nothing was decided. GET /approvals/{request_id} shows it.",
            order_digest=order_digest(order),
        )


def _refuse_closed(row: sqlite3.Row) -> NoReturn:
    """Raise the error that explains why a request that is not pending cannot be decided."""
    if row["state"] in states.DECIDED:
        raise AlreadyDecided(
            f"Request {row['id']} was already {row['state']} at {row['decided_at']}"
            + (f" by {row['approver']}." if row["approver"] else "."),
            state=row["state"],
            decided_at=row["decided_at"],
        )
    if row["state"] == states.DECIDING:
        raise AlreadyDecided(f"Request {row['id']} is being decided by another call.", state="deciding")
    raise RequestExpired(f"Request {row['id']} can no longer be decided: {row['closed_reason']}", state=row["state"])


def _send(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> None:
    """Send the decision stored in a claimed row."""
    if row["decision"] == "approve":
        sfn.send_task_success(taskToken=row["task_token"], output=json.dumps(quorum.output(db, row)))
    else:
        cause = row["reason"] or "Rejected by the approver."
        sfn.send_task_failure(taskToken=row["task_token"], error=executions.REJECTION_ERROR, cause=cause)


def _conclude(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> bool:
    """Record a claimed request's end from its execution, once that has stopped running; False if it has not."""
    for _ in range(SETTLE_POLLS):  # the execution leaves Request Approval moments after the token is used
        try:
            execution = executions.describe(sfn, row["execution_arn"])
        except AwsUnavailable:
            return False
        if execution is None or execution["status"] != "RUNNING":
            store.finish(db, row["id"], *executions.outcome_of(row, execution), from_state=states.DECIDING)
            return True
        time.sleep(SETTLE_POLL_SECONDS)
    return False


def _deliver(db: sqlite3.Connection, sfn: Any, row: sqlite3.Row) -> None:
    """Send a claimed decision and record what happened; the row stays claimed while the outcome is unknown."""
    unknown = f"The outcome of request {row['id']} is not known yet; GET /approvals/{row['id']} will show it."
    try:
        _send(db, sfn, row)
    except ClientError as error:
        if error.response["Error"]["Code"] not in TOKEN_GONE:  # refused (throttled, denied): nothing was decided
            store.release(db, row["id"])
            raise AwsUnavailable(
                f"Step Functions did not take the decision; try again. ({error.response['Error']['Code']})"
            ) from error
        # the token is spent, perhaps by an earlier attempt of this very decision: the execution tells
        if not _conclude(db, sfn, row):
            raise AwsUnavailable(unknown) from error
        return
    except NOT_SENT as error:
        store.release(db, row["id"])
        raise AwsUnavailable(f"Step Functions could not be reached; try again. ({type(error).__name__})") from error
    except BotoCoreError as error:  # the answer was lost: the decision may have been taken
        raise AwsUnavailable(unknown) from error
    try:
        store.finish(db, row["id"], states.DECIDED_BY[row["decision"]], None, from_state=states.DECIDING)
    except StoreUnavailable as error:  # the claim stays; resume_claims records the outcome once the store is back
        raise StoreUnavailable(
            f"Step Functions took the decision on request {row['id']}, but the store could not record it"
            f" ({error.details['reason']}); it is recorded once the store can be written again.",
            **error.details,
        ) from error


def _stored(db: sqlite3.Connection, request_id: str) -> sqlite3.Row:
    row = store.get(db, request_id)
    if row is None:
        raise RequestNotFound(f"No approval request with id {request_id}. GET /pending lists the open ones.")
    return row


def _claim(
    db: sqlite3.Connection, row: sqlite3.Row, decision: dict[str, Any], groups: Sequence[str] | None
) -> sqlite3.Row | None:
    """Claim a pending request for this decision; None when it was an approval that leaves it pending.

    Under a rule, the decider must be eligible, and an approval is recorded: the one that makes the
    rule's count claims the request in the same transaction, so that it is decided exactly once.
    """
    rule = quorum.rule_of(row)
    if rule is None:
        claimed = store.claim(db, row["id"], decision)
    else:
        refused = quorum.refusal(db, row, rule, decision, groups)
        if refused is not None:
            raise refused
        if decision["decision"] == "approve":
            outcome, claimed = store.add_approval(db, row["id"], decision, rule.approvals)
            if outcome == "recorded":
                return None
            if outcome == "duplicate":  # the same person again, racing themselves past the check above
                raise quorum.already_approved(db, row["id"], rule, decision["approver"])
        else:
            claimed = store.claim(db, row["id"], decision)
    if claimed is None:
        _refuse_closed(_stored(db, row["id"]))
    return claimed


def decide(
    db: sqlite3.Connection,
    sfn: Any,
    request_id: str,
    decision: dict[str, Any],
    expected: str | None = None,
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Send the decision once and record it; return the request as stored afterwards.

    With `expected`, the digest of the order the decider saw, a request holding another order is refused.
    `groups` are the signed-in decider's (None in local mode), for requests under an approval rule; an
    approval that leaves such a request short of its count is recorded and the request stays pending.
    """
    row = _stored(db, request_id)
    check_digest(request_id, json.loads(row["order_json"]), expected)
    if row["state"] == states.PENDING and row["expires_at"] <= now():
        store.expire_overdue(db, request_id)  # a late decision must not reach a token whose time is up
        row = _stored(db, request_id)
    claimed = _claim(db, row, decision, groups)
    if claimed is None:
        return quorum.shown(db, _stored(db, request_id))
    _deliver(db, sfn, claimed)
    settled = _stored(db, request_id)
    if settled["state"] != states.DECIDED_BY[decision["decision"]]:
        _refuse_closed(settled)
    return quorum.shown(db, settled)


def decide_many(
    database: str,
    sfn: Any,
    request_ids: list[str],
    decision: dict[str, Any],
    parallel: int,
    expected: Mapping[str, str] | None = None,
    groups: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Decide each request on its own claim, with up to `parallel` Step Functions calls in flight;
    `expected` maps ids to the digest of the order the decider saw.

    Returns one outcome per id, in order: {"id", "status": 200, "request"} or {"id", "status", "error", "message"}.
    """

    def one(request_id: str) -> dict[str, Any]:
        try:
            with connection(database) as db:  # closed here: the pool's threads end with the call
                decided = decide(db, sfn, request_id, decision, (expected or {}).get(request_id), groups)
        except ApprovalError as error:
            return {"id": request_id, "status": error.status, **error.as_dict()}
        except Exception:  # one id's fault must not hide the others' outcomes, already decided
            log.exception("deciding %s failed", request_id)
            message = "The controller failed on this request; GET /approvals/<id> shows where it stands."
            return {"id": request_id, "status": 500, "error": "InternalError", "message": message}
        return {"id": request_id, "status": 200, "request": decided}

    with ThreadPoolExecutor(min(parallel, len(request_ids)), thread_name_prefix="decide") as pool:
        return list(pool.map(one, request_ids))


def resume_claims(db: sqlite3.Connection, sfn: Any, older_than_seconds: float) -> None:
    """Finish decisions a crash or a lost answer left claimed: send them again, or learn their outcome."""
    for row in store.stale_claims(db, older_than_seconds):
        try:
            _deliver(db, sfn, row)
        except AwsUnavailable:
            continue  # released, or still unknown: a later pass or call settles it
