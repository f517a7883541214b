"""The approver's JSON API: list pending requests, approve or reject them, look one up."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from controller.access import auth
from controller.approval import decisions, quorum
from controller.core.errors import (
    AmbiguousRequest,
    InvalidInput,
    NoPendingRequest,
    RequestNotFound,
    RequestNotNamed,
    UnsupportedMediaType,
)
from controller.service import aws
from controller.storage import store
from controller.storage.db import get_db
from controller.web import audit, finding, listing

bp = Blueprint("approvals", __name__)
DEFAULT_PAGE, MAX_PAGE = 100, 1000
MAX_BULK = 100
MAX_ID_LENGTH = 80  # the longest execution name Step Functions allows


def _body() -> dict[str, Any]:
    """Return the optional JSON object body; InvalidInput for anything else."""
    body: Any = {}
    if request.get_data():
        if not request.is_json:  # a form or text/plain body is what another site's page can send without asking
            raise UnsupportedMediaType(
                "A body must be JSON sent with Content-Type: application/json (curl: -H 'Content-Type:"
                " application/json'); nothing was decided."
            )
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # nested deeper than the parser goes: not a decision either
            body = None
        if not isinstance(body, dict):
            raise InvalidInput("The body must be a JSON object sent as application/json, or empty.")
    fields: dict[str, Any] = body
    return fields


def _ids(value: Any) -> list[str]:
    """Return the ids of a bulk decision; InvalidInput unless they are 1 to MAX_BULK distinct ids."""
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_BULK
        or not all(isinstance(item, str) and 0 < len(item) <= MAX_ID_LENGTH for item in value)
    ):
        raise InvalidInput(f"'ids' must be a list of 1 to {MAX_BULK} request ids.")
    if len(set(value)) != len(value):
        raise InvalidInput("'ids' names a request more than once.")
    return value


@bp.get("/pending")
def pending() -> Any:
    """List the requests waiting for a decision, after pulling new ones: oldest first, ?limit= (default 100)
    a page; ?q=, min_total, max_total, currency, sort and page as on the page (docs/api.md)."""
    found = finding.pending(DEFAULT_PAGE, MAX_PAGE, size="limit")
    limit = found.per
    warnings = listing.refresh()
    db = get_db()
    shown, matched = listing.find_pending(db, found)
    return jsonify(
        pending=[quorum.shown(db, row) for row in shown],
        count=store.count_pending(db),
        matched=matched,
        warnings=warnings,
        invalid_messages=store.invalid_messages(db, limit),
        notifications=store.notification_counts(db),
        dead_letters=listing.dead_letters(),
        store={"failure": store.failure(db)},
    )


def _only_pending_id(expected: str | None) -> str:
    """Return the one pending request's id. Signed in, only with the digest of its order: one may have
    arrived between looking and deciding, and a decision must not land on an order nobody saw."""
    db = get_db()
    store.expire_overdue(db)
    ids = [row["id"] for row in store.pending(db, MAX_PAGE)]
    if not ids:
        raise NoPendingRequest("No request is waiting for a decision. GET /pending pulls new ones.")
    if len(ids) > 1:
        raise AmbiguousRequest(f"{len(ids)} requests are pending; name one in the URL.", pending=ids)
    if g.get("sign_in") and expected is None:
        raise RequestNotNamed(
            "Signed in, a decision names its request: POST to /approve/<id> or /reject/<id>, or send the"
            " expected_order_digest of the order you saw.",
            pending=ids,
        )
    only: str = ids[0]
    return only


@bp.post("/<any(approve, reject):kind>", defaults={"request_id": None})
@bp.post("/<any(approve, reject):kind>/<request_id>")
@auth.approvers_only
def decide(kind: str, request_id: str | None) -> Any:
    """Approve (SendTaskSuccess) or reject (SendTaskFailure, optional reason) a request, exactly once.

    Without an id in the URL, {"ids": [...]} decides several, each on its own; without either, the
    only pending request (signed in, only with its expected_order_digest). An expected_order_digest
    that is not the order's gets 412. Signed in, the approver is the signed-in user whatever the body says.
    """
    fields = _body()
    ids = _ids(fields.pop("ids")) if "ids" in fields and request_id is None else None
    expected = decisions.expected_digest(fields)
    if ids is not None and expected is not None:
        raise InvalidInput("'expected_order_digest' goes with one request; a decision of several 'ids' takes none.")
    decision, notes = auth.as_signed_in(decisions.validate(kind, fields))
    groups = auth.decider_groups()
    warned = {"warnings": notes} if notes else {}
    if ids is None:
        request_id = request_id or _only_pending_id(expected)
        with aws.slot():
            decided = decisions.decide(get_db(), aws.client("stepfunctions"), request_id, decision, expected, groups)
        return jsonify({**decided, **warned})
    with aws.slot():
        outcomes = decisions.decide_many(
            current_app.config["DATABASE"],
            aws.client("stepfunctions"),
            ids,
            decision,
            current_app.config["DECISION_PARALLEL"],
            groups=groups,
        )
    audit.record_each(outcomes)
    decided = sum(outcome["status"] == 200 for outcome in outcomes)
    return jsonify(results=outcomes, decided=decided, refused=len(outcomes) - decided, **warned)


@bp.get("/approvals/<request_id>")
def approval(request_id: str) -> Any:
    """Return a stored request, its decision and its execution's live status."""
    db = get_db()
    row = store.get(db, request_id)
    if row is None:
        raise RequestNotFound(f"No approval request with id {request_id}.")
    execution = listing.execution_status(db, row)
    return jsonify(request=quorum.shown(db, row), execution=execution)
