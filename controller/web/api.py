"""The approver's JSON API: list pending requests, approve or reject them, look one up."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from controller.access import auth
from controller.approval import decisions, quorum
from controller.core.errors import (
    InvalidInput,
    NoPendingRequest,
    RequestNotFound,
    RequestNotNamed,
    SeveralPending,
    UnsupportedMediaType,
)
from controller.core.jsontypes import JSON, JSONObject
from controller.service import aws
from controller.storage.context import backend_of, get_store
from controller.storage.records import Action
from controller.web import audit, finding, listing

bp = Blueprint("approvals", __name__)
DEFAULT_PAGE, MAX_PAGE = 100, 1000
MAX_BULK = 100
MAX_ID_LENGTH = 80  # the longest execution name Step Functions allows


def _body() -> JSONObject:
    """Return the optional JSON object body; InvalidInput for anything else."""
    if not request.get_data():
        return {}
    if not request.is_json:  # a form or text/plain body is what another site's page can send without asking
        raise UnsupportedMediaType(
            "A body must be JSON sent with Content-Type: application/json (curl: -H 'Content-Type:"
            " application/json'); nothing was decided."
        )
    try:
        body: JSON = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes: not a decision either
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object sent as application/json, or empty.")
    return body


def _ids(value: JSON) -> list[str]:
    """Return the ids of a bulk decision; InvalidInput unless they are 1 to MAX_BULK distinct ids."""
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_BULK
        or not all(isinstance(item, str) and 0 < len(item) <= MAX_ID_LENGTH for item in value)
    ):
        raise InvalidInput(f"'ids' must be a list of 1 to {MAX_BULK} request ids.")
    ids = [item for item in value if isinstance(item, str)]  # all of them, as checked above
    if len(set(ids)) != len(ids):
        raise InvalidInput("'ids' names a request more than once.")
    return ids


@bp.get("/pending")
def pending() -> ResponseReturnValue:
    """List the requests waiting for a decision, after pulling new ones: oldest first, ?limit= (default 100)
    a page; ?q=, min_total, max_total, currency, sort and page as on the page (docs/api.md)."""
    found = finding.pending(DEFAULT_PAGE, MAX_PAGE, size="limit")
    limit = found.per
    warnings = listing.refresh_warnings()
    store = get_store()
    shown, matched = listing.find_pending(store, found)
    return jsonify(
        pending=[quorum.shown(store, request) for request in shown],
        count=store.count_pending(),
        matched=matched,
        warnings=warnings,
        invalid_messages=store.invalid_messages(limit),
        notifications=store.notification_counts(),
        dead_letters=listing.dead_letters(),
        store={"failure": store.failure()},
    )


def _only_pending_id(expected: str | None) -> str:
    """Return the one pending request's id. Signed in, only with the digest of its order: one may have
    arrived between looking and deciding, and a decision must not land on an order nobody saw."""
    store = get_store()
    store.expire_overdue()
    ids = [request.id for request in store.pending(MAX_PAGE)]
    if not ids:
        raise NoPendingRequest("No request is waiting for a decision. GET /pending pulls new ones.")
    if len(ids) > 1:
        raise SeveralPending(f"{len(ids)} requests are pending; name one in the URL.", pending=ids)
    if g.get("sign_in") and expected is None:
        raise RequestNotNamed(
            "Signed in, a decision names its request: POST to /approve/<id> or /reject/<id>, or send the"
            " expected_order_digest of the order you saw.",
            pending=ids,
        )
    only: str = ids[0]
    return only


@bp.post("/<any(approve, reject):action>", defaults={"request_id": None})
@bp.post("/<any(approve, reject):action>/<request_id>")
@auth.approvers_only
def decide(action: Action, request_id: str | None) -> ResponseReturnValue:
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
    decision, notes = auth.as_signed_in(decisions.validate(action, fields))
    groups = auth.decider_groups()
    warned = {"warnings": notes} if notes else {}
    if ids is None:
        request_id = request_id or _only_pending_id(expected)
        with aws.slot():
            shown = decisions.decide(get_store(), aws.stepfunctions(), request_id, decision, expected, groups)
        return jsonify({**shown, **warned})
    with aws.slot():
        outcomes = decisions.decide_many(
            backend_of(current_app),
            aws.stepfunctions(),
            ids,
            decision,
            current_app.config["DECISION_PARALLEL"],
            groups=groups,
        )
    audit.record_each(outcomes)
    decided = sum(outcome.status == 200 for outcome in outcomes)
    results = [outcome.shown() for outcome in outcomes]
    return jsonify(results=results, decided=decided, refused=len(outcomes) - decided, **warned)


@bp.get("/approvals/<request_id>")
def approval(request_id: str) -> ResponseReturnValue:
    """Return a stored request, its decision and its execution's live status."""
    store = get_store()
    stored = store.get_request(request_id)
    if stored is None:
        raise RequestNotFound(f"No approval request with id {request_id}.")
    return jsonify(request=quorum.shown(store, stored), execution=listing.execution_status(store, stored))
