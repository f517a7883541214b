"""Approve or reject a stored request: one claim in the store, one call to Step Functions."""

from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from controller.approval import executions
from controller.core import states, text
from controller.core.errors import (
    AlreadyDecided,
    ApprovalError,
    AwsUnavailable,
    InvalidInput,
    RequestExpired,
    RequestNotFound,
    StoreUnavailable,
)
from controller.core.jsontypes import JSONObject
from controller.storage.interface import Backend, Store
from controller.storage.records import Action, ApprovalRequest, Decision, PublicRequest, now

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)
# Step Functions' answers for a token that can no longer be used; moto says InvalidToken
# where AWS says TaskTimedOut, so all of them mean the same here.
TOKEN_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
SETTLE_POLLS, SETTLE_POLL_SECONDS = 10, 0.2
NOT_SENT = (EndpointConnectionError, ConnectTimeoutError)  # the request never reached AWS
FIELD_LIMITS = {"approver": 100, "comment": 1000, "reason": 1000}
SURROGATE = re.compile("[\ud800-\udfff]")  # JSON may escape one alone ("\\ud800"); SQLite cannot store it


@dataclass(frozen=True)
class Outcome:
    """What came of one id of a bulk decision: the request as decided, or the error that refused it."""

    id: str
    answer: PublicRequest | ApprovalError

    @property
    def status(self) -> int:
        return self.answer.status if isinstance(self.answer, ApprovalError) else 200

    @property
    def result(self) -> str:
        """Return the state the request reached, or the error's code."""
        return self.answer.code if isinstance(self.answer, ApprovalError) else self.answer["state"]

    def shown(self) -> dict[str, object]:
        """Return the outcome as the API shows it: {"id", "status": 200, "request"} or {"id", "status", "error"...}."""
        if isinstance(self.answer, ApprovalError):
            return {"id": self.id, "status": self.status, **self.answer.as_dict()}
        return {"id": self.id, "status": 200, "request": self.answer}


def validate(action: Action, fields: JSONObject) -> Decision:
    """Return the decision to approve or reject from its optional fields; InvalidInput if they are wrong."""
    allowed = ("approver", "comment", "reason") if action == "reject" else ("approver", "comment")
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
    given = {field: value for field, value in fields.items() if isinstance(value, str) and value}  # all text by now
    return Decision(action, given.get("approver"), given.get("comment"), given.get("reason"))


def _refuse_closed(request: ApprovalRequest) -> NoReturn:
    """Raise the error that explains why a request that is not pending cannot be decided."""
    if request.state in states.DECIDED:
        approver = request.decision and request.decision.approver
        raise AlreadyDecided(
            f"Request {request.id} was already {request.state} at {request.decided_at}"
            + (f" by {approver}." if approver else "."),
            state=request.state,
            decided_at=request.decided_at,
        )
    if request.state == states.DECIDING:
        raise AlreadyDecided(f"Request {request.id} is being decided by another call.", state="deciding")
    raise RequestExpired(f"Request {request.id} can no longer be decided: {request.closed_reason}", state=request.state)


def _send(sfn: SFNClient, request: ApprovalRequest, decision: Decision) -> None:
    """Send the decision a request was claimed for."""
    if decision.action == "approve":
        output = {"status": "APPROVED", "approver": decision.approver, "comment": decision.comment}
        sfn.send_task_success(taskToken=request.task_token, output=json.dumps(output))
    else:
        cause = decision.reason or "Rejected by the approver."
        sfn.send_task_failure(taskToken=request.task_token, error=executions.REJECTION_ERROR, cause=cause)


def _conclude(store: Store, sfn: SFNClient, request: ApprovalRequest) -> bool:
    """Record a claimed request's end from its execution, once that has stopped running; False if it has not."""
    for _ in range(SETTLE_POLLS):  # the execution leaves Request Approval moments after the token is used
        try:
            execution = executions.describe(sfn, request.execution_arn)
        except AwsUnavailable:
            return False
        if execution is None or execution.status != "RUNNING":
            store.finish(request.id, *executions.outcome_of(request, execution), from_state=states.DECIDING)
            return True
        time.sleep(SETTLE_POLL_SECONDS)
    return False


def _deliver(store: Store, sfn: SFNClient, request: ApprovalRequest) -> None:
    """Send a claimed decision and record what happened; the request stays claimed while the outcome is unknown."""
    unknown = f"The outcome of request {request.id} is not known yet; GET /approvals/{request.id} will show it."
    if request.decision is None:  # a claim always carries its decision; this one is not a claim
        raise ValueError(f"request {request.id} is not claimed for a decision")
    try:
        _send(sfn, request, request.decision)
    except ClientError as error:
        if error.response["Error"]["Code"] not in TOKEN_GONE:  # refused (throttled, denied): nothing was decided
            store.release(request.id)
            raise AwsUnavailable(
                f"Step Functions did not take the decision; try again. ({error.response['Error']['Code']})"
            ) from error
        # the token is spent, perhaps by an earlier attempt of this very decision: the execution tells
        if not _conclude(store, sfn, request):
            raise AwsUnavailable(unknown) from error
        return
    except NOT_SENT as error:
        store.release(request.id)
        raise AwsUnavailable(f"Step Functions could not be reached; try again. ({type(error).__name__})") from error
    except BotoCoreError as error:  # the answer was lost: the decision may have been taken
        raise AwsUnavailable(unknown) from error
    try:
        store.finish(request.id, states.DECIDED_BY[request.decision.action], None, from_state=states.DECIDING)
    except StoreUnavailable as error:  # the claim stays; resume_claims records the outcome once the store is back
        raise StoreUnavailable(
            f"Step Functions took the decision on request {request.id}, but the store could not record it"
            f" ({error.details['reason']}); it is recorded once the store can be written again.",
            **error.details,
        ) from error


def _stored(store: Store, request_id: str) -> ApprovalRequest:
    request = store.get_request(request_id)
    if request is None:
        raise RequestNotFound(f"No approval request with id {request_id}. GET /pending lists the open ones.")
    return request


def decide(store: Store, sfn: SFNClient, request_id: str, decision: Decision) -> PublicRequest:
    """Send the decision once and record it; return the request as shown publicly afterwards."""
    request = _stored(store, request_id)
    if request.state == states.PENDING and request.expires_at <= now():
        store.expire_overdue(request_id)  # a late decision must not reach a token whose time is up
    claimed = store.claim(request_id, decision)
    if claimed is None:
        _refuse_closed(_stored(store, request_id))
    _deliver(store, sfn, claimed)
    settled = _stored(store, request_id)
    if settled.state != states.DECIDED_BY[decision.action]:
        _refuse_closed(settled)
    return settled.public()


def decide_many(
    backend: Backend, sfn: SFNClient, request_ids: list[str], decision: Decision, parallel: int
) -> list[Outcome]:
    """Decide each request on its own claim, with up to `parallel` Step Functions calls in flight; one outcome
    per id, in order."""

    def one(request_id: str) -> Outcome:
        try:
            with closing(backend.open()) as store:  # closed here: the pool's threads end with the call
                return Outcome(request_id, decide(store, sfn, request_id, decision))
        except ApprovalError as error:
            return Outcome(request_id, error)
        except Exception:  # one id's fault must not hide the others' outcomes, already decided
            log.exception("deciding %s failed", request_id)
            message = "The controller failed on this request; GET /approvals/<id> shows where it stands."
            return Outcome(request_id, ApprovalError(message))

    with ThreadPoolExecutor(min(parallel, len(request_ids)), thread_name_prefix="decide") as pool:
        return list(pool.map(one, request_ids))


def resume_claims(store: Store, sfn: SFNClient, older_than_seconds: float) -> None:
    """Finish decisions a crash or a lost answer left claimed: send them again, or learn their outcome."""
    for request in store.stale_claims(older_than_seconds):
        try:
            _deliver(store, sfn, request)
        except AwsUnavailable:
            continue  # released, or still unknown: a later pass or call settles it
