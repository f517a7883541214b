"""The approver's JSON API: list pending requests, approve or reject them, look one up."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request

from controller import auth, aws, decisions, listing, store
from controller.db import get_db
from controller.errors import AmbiguousRequest, InvalidInput, NoPendingRequest, RequestNotFound

bp = Blueprint("approvals", __name__)
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


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_PAGE))
    if not LIMIT_PATTERN.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"'limit' must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


@bp.get("/pending")
def pending() -> Any:
    """List the requests waiting for a decision (oldest first, ?limit=, default 100), after pulling new ones."""
    limit = _limit()
    warnings = listing.refresh()
    db = get_db()
    return jsonify(
        pending=[store.public(row) for row in store.pending(db, limit)],
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
    only: str = ids[0]
    return only


@bp.post("/<any(approve, reject):kind>", defaults={"request_id": None})
@bp.post("/<any(approve, reject):kind>/<request_id>")
@auth.approvers_only
def decide(kind: str, request_id: str | None) -> Any:
    """Approve (SendTaskSuccess) or reject (SendTaskFailure, optional reason) a request, exactly once."""
    decision, notes = auth.as_signed_in(_decision_from_body(kind))
    request_id = request_id or _only_pending_id()
    decided = decisions.decide(get_db(), aws.client("stepfunctions"), request_id, decision)
    return jsonify({**decided, "warnings": notes} if notes else decided)


@bp.get("/approvals/<request_id>")
def approval(request_id: str) -> Any:
    """Return a stored request, its decision and its execution's live status."""
    db = get_db()
    row = store.get(db, request_id)
    if row is None:
        raise RequestNotFound(f"No approval request with id {request_id}.")
    execution = listing.execution_status(db, row)
    return jsonify(request=store.public(row), execution=execution)
