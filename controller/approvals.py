"""The approver's API: list pending requests, approve or reject them, look one up."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, current_app, jsonify, request

from controller import aws, decisions, executions, inbox, store
from controller.db import get_db
from controller.errors import AmbiguousRequest, AwsUnavailable, InvalidInput, NoPendingRequest, RequestNotFound

bp = Blueprint("approvals", __name__)
LIVENESS_CHECKS_PER_CALL = 10
DEFAULT_PAGE, MAX_PAGE = 100, 1000
LIMIT_PATTERN = re.compile(r"[0-9]{1,4}")  # ASCII digits only: int() refuses "²" and 5000-digit strings


def _decision_from_body(kind: str) -> dict[str, Any]:
    """Read the optional JSON body {approver, comment, reason}; reject anything else with 400."""
    body: Any = {}
    if request.get_data():
        try:
            body = request.get_json(force=True, silent=True)  # curl -d sends JSON as a form unless told otherwise
        except RecursionError:  # nested deeper than the parser goes: not a decision either
            body = None
        if not isinstance(body, dict):
            raise InvalidInput("The body must be a JSON object sent as application/json, or empty.")
    return decisions.validate(kind, body)


def _check_liveness(db: Any) -> None:
    """Close requests whose execution stopped waiting, a few per call to stay cheap; finish stale claims."""
    for row in store.stale(db, current_app.config["LIVENESS_CHECK_SECONDS"], LIVENESS_CHECKS_PER_CALL):
        executions.settle_pending(db, aws.client("stepfunctions"), row)
    decisions.resume_claims(db, aws.client("stepfunctions"), current_app.config["CLAIM_STALE_SECONDS"])


def refresh_pending() -> list[str]:
    """Pull new requests from SQS and close those no longer waiting; return warnings for the reader."""
    db, warnings = get_db(), []
    config = current_app.config
    try:
        inbox.pull(
            db,
            aws.client("sqs"),
            config["APPROVAL_QUEUE_URL"],
            config["PULL_WAIT_SECONDS"],
            config["PULL_MAX_BATCHES"],
            config["PULL_BATCH_SIZE"],
        )
        _check_liveness(db)
    except (AwsUnavailable, ClientError, BotoCoreError) as error:
        warnings.append(f"Showing stored requests only; AWS could not be reached: {error}")
    store.expire_overdue(db)
    return warnings


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_PAGE))
    if not LIMIT_PATTERN.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"'limit' must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


@bp.get("/pending")
def pending() -> Any:
    """List the requests waiting for a decision (oldest first, ?limit=, default 100), after pulling new ones."""
    limit = _limit()
    warnings = refresh_pending()
    db = get_db()
    shown = [store.public(row) for row in store.pending(db, limit)]
    return jsonify(
        pending=shown,
        count=store.count_pending(db),
        warnings=warnings,
        invalid_messages=store.invalid_messages(db, limit),
    )


def _only_pending_id() -> str:
    db = get_db()
    store.expire_overdue(db)
    ids = [row["id"] for row in store.pending(db, MAX_PAGE)]
    if not ids:
        raise NoPendingRequest("No request is waiting for a decision. GET /pending pulls new ones.")
    if len(ids) > 1:
        raise AmbiguousRequest(f"{len(ids)} requests are pending; name one in the URL.", pending=ids)
    return ids[0]


@bp.post("/<any(approve, reject):kind>", defaults={"request_id": None})
@bp.post("/<any(approve, reject):kind>/<request_id>")
def decide(kind: str, request_id: str | None) -> Any:
    """Approve (SendTaskSuccess) or reject (SendTaskFailure, optional reason) a request, exactly once."""
    decision = _decision_from_body(kind)
    request_id = request_id or _only_pending_id()
    return jsonify(decisions.decide(get_db(), aws.client("stepfunctions"), request_id, decision))


@bp.get("/approvals/<request_id>")
def approval(request_id: str) -> Any:
    """Return a stored request, its decision and its execution's live status."""
    db = get_db()
    row = store.get(db, request_id)
    if row is None:
        raise RequestNotFound(f"No approval request with id {request_id}.")
    execution = executions.execution_of(db, aws.client("stepfunctions"), row)
    return jsonify(request=store.public(store.get(db, request_id)), execution=execution)
