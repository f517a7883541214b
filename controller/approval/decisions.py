"""Approve or reject a stored request: one claim in the store, one call to Step Functions."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

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
from controller.core.jsontypes import JSONObject
from controller.storage.interface import Backend, Store
from controller.storage.records import Action, Approval, ApprovalRequest, Decision, now

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)
# Step Functions' answers for a token that can no longer be used: TaskTimedOut for one answered or timed
# out, InvalidToken for one it does not know (an emulator restarted since), so all of them mean the same here.
TOKEN_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
SETTLE_POLLS, SETTLE_POLL_SECONDS = 10, 0.2
NOT_SENT = (EndpointConnectionError, ConnectTimeoutError)  # the request never reached AWS
FIELD_LIMITS = {"approver": 100, "comment": 1000, "reason": 1000}
SURROGATE = re.compile("[\ud800-\udfff]")  # JSON may escape one alone ("\\ud800"); SQLite cannot store it


@dataclass(frozen=True)
class Outcome:
    """What came of one id of a bulk decision: the request as decided, or the error that refused it."""

    id: str
    answer: dict[str, object] | ApprovalError  # the request as shown, or the error

    @property
    def status(self) -> int:
        return self.answer.status if isinstance(self.answer, ApprovalError) else 200

    @property
    def result(self) -> str:
        """Return the state the request reached, or the error's code."""
        return self.answer.code if isinstance(self.answer, ApprovalError) else str(self.answer["state"])

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


def expected_digest(fields: JSONObject) -> str | None:
    """Take the optional `expected_order_digest` out of a decision's fields; InvalidInput unless it is a digest."""
    if "expected_order_digest" not in fields:
        return None
    expected = fields.pop("expected_order_digest")
    if not (isinstance(expected, str) and DIGEST.fullmatch(expected)):
        raise InvalidInput("'expected_order_digest' must be the order_digest shown with a request: 64 hex digits.")
    return expected


def check_digest(request: ApprovalRequest, expected: str | None) -> None:
    """Raise OrderChanged when a decision says it saw another order than the one stored."""
    if expected is not None and order_digest(request.order) != expected:
        raise OrderChanged(
            f"Request {request.id} holds another order than the one you saw (its order_digest differs);"
            f" nothing was decided. GET /approvals/{request.id} shows it.",
            order_digest=order_digest(request.order),
        )


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


def _send(store: Store, sfn: SFNClient, request: ApprovalRequest, decision: Decision) -> None:
    """Send the decision a request was claimed for."""
    if decision.action == "approve":
        output = quorum.output(store, request, decision)
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
            outcome = executions.outcome_of(request, execution)
            store.finish(request.id, *outcome, from_state=states.DECIDING, read=request)
            return True
        time.sleep(SETTLE_POLL_SECONDS)
    return False


def _deliver(store: Store, sfn: SFNClient, request: ApprovalRequest) -> ApprovalRequest | None:
    """Send a claimed decision and record what happened; the request stays claimed while the outcome is unknown.
    Return the request as this call ended it; None when the execution told the outcome, or another call did."""
    unknown = f"The outcome of request {request.id} is not known yet; GET /approvals/{request.id} will show it."
    if request.decision is None:  # a claim always carries its decision; this one is not a claim
        raise ValueError(f"request {request.id} is not claimed for a decision")
    try:
        _send(store, sfn, request, request.decision)
    except ClientError as error:
        if error.response["Error"]["Code"] not in TOKEN_GONE:  # refused (throttled, denied): nothing was decided
            store.release(request.id)
            raise AwsUnavailable(
                f"Step Functions did not take the decision; try again. ({error.response['Error']['Code']})"
            ) from error
        # the token is spent, perhaps by an earlier attempt of this very decision: the execution tells
        if not _conclude(store, sfn, request):
            raise AwsUnavailable(unknown) from error
        return None
    except NOT_SENT as error:
        store.release(request.id)
        raise AwsUnavailable(f"Step Functions could not be reached; try again. ({type(error).__name__})") from error
    except BotoCoreError as error:  # the answer was lost: the decision may have been taken
        raise AwsUnavailable(unknown) from error
    try:
        decided = states.DECIDED_BY[request.decision.action]
        return store.finish(request.id, decided, None, from_state=states.DECIDING, read=request)
    except StoreUnavailable as error:  # the claim stays; resume_claims records the outcome once the store is back
        raise StoreUnavailable(
            f"Step Functions took the decision on request {request.id}, but the store could not record it"
            f" ({error.details['reason']}); it is recorded once the store can be written again.",
            **error.details,
        ) from error


def _stored(store: Store, request_id: str, as_seen: bool = False) -> ApprovalRequest:
    """The request as stored; as_seen: or as this process listed it moments ago (the claim checks its state)."""
    request = store.request_as_seen(request_id) if as_seen else store.get_request(request_id)
    if request is None:
        raise RequestNotFound(f"No approval request with id {request_id}. GET /pending lists the open ones.")
    return request


def _claim(
    store: Store, request: ApprovalRequest, decision: Decision, groups: Sequence[str] | None
) -> ApprovalRequest | None:
    """Claim a pending request for this decision; None when it was an approval that leaves it pending.

    Under a rule, the decider must be eligible, and an approval is recorded: the one that makes the
    rule's count claims the request in the same step, so that it is decided exactly once.
    """
    rule = quorum.rule_of(request)
    if rule is None:
        claimed = store.claim(request.id, decision, request)
    else:
        refused = quorum.refusal(store, request, rule, decision, groups)
        if refused is not None:
            raise refused
        if decision.action == "approve":
            approval = Approval(decision.approver or "", now(), decision.comment)
            outcome = store.add_approval(request.id, approval, rule.approvals)
            if outcome.result == "recorded":
                return None
            if outcome.result == "duplicate":  # the same person again, racing themselves past the check above
                raise quorum.already_approved(store, request.id, rule, decision.approver or "")
            claimed = outcome.claimed
        else:
            claimed = store.claim(request.id, decision, request)
    if claimed is None:
        _refuse_closed(_stored(store, request.id))
    return claimed


def decide(
    store: Store,
    sfn: SFNClient,
    request_id: str,
    decision: Decision,
    expected: str | None = None,
    groups: Sequence[str] | None = None,
) -> dict[str, object]:
    """Send the decision once and record it; return the request as shown afterwards.

    With `expected`, the digest of the order the decider saw, a request holding another order is refused.
    `groups` are the signed-in decider's (None in local mode), for requests under an approval rule; an
    approval that leaves such a request short of its count is recorded and the request stays pending.
    """
    request = _stored(store, request_id, as_seen=True)
    check_digest(request, expected)
    if request.state == states.PENDING and request.expires_at <= now():
        store.expire_overdue(request_id)  # a late decision must not reach a token whose time is up
        request = _stored(store, request_id)
    claimed = _claim(store, request, decision, groups)
    if claimed is None:
        return quorum.shown(store, _stored(store, request_id))
    settled = _deliver(store, sfn, claimed) or _stored(store, request_id)
    if settled.state != states.DECIDED_BY[decision.action]:
        _refuse_closed(settled)
    return quorum.shown(store, settled)


def decide_many(
    backend: Backend,
    sfn: SFNClient,
    request_ids: list[str],
    decision: Decision,
    parallel: int,
    expected: Mapping[str, str] | None = None,
    groups: Sequence[str] | None = None,
) -> list[Outcome]:
    """Decide each request on its own claim, with up to `parallel` Step Functions calls in flight, one outcome
    per id, in order; `expected` maps ids to the digest of the order the decider saw."""

    def one(request_id: str) -> Outcome:
        try:
            with closing(backend.open()) as store:  # closed here: the pool's threads end with the call
                decided = decide(store, sfn, request_id, decision, (expected or {}).get(request_id), groups)
                return Outcome(request_id, decided)
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
