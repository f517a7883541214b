"""The audit trail: every attempt to decide, taken or refused, with who, when, from where and what.

Recorded after the response is made, for every POST to a view marked approvers_only, whatever
answered it: the view, an error (409, 410, 503), the identity check (401) or the role check (403).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from controller.access import auth
from controller.approval.decisions import Outcome
from controller.core.errors import RequestNotFound, StoreUnavailable
from controller.storage.context import get_store
from controller.storage.records import AuditAttempt

bp = Blueprint("audit", __name__)
log = logging.getLogger(__name__)
MAX_IDS = 1000  # a bulk attempt names at most 100 ids; a refused one naming more is recorded once, without them


def _outcome(response: Response) -> str:
    """Return what came of the attempt: the state reached, the error code, or what the page reported."""
    if "audit_outcome" in g:
        return str(g.audit_outcome)
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        return str(body.get("error") or state_reached(body) or response.status_code)
    return str(response.status_code)


def state_reached(request_shown: dict[str, object]) -> str:
    """Return the state a decision left a request in; "approval 1 of 2" for one that needs more."""
    approvals = request_shown.get("approvals")
    if request_shown.get("state") == "pending" and "approvals_required" in request_shown:
        given = len(approvals) if isinstance(approvals, list) else 0
        return f"approval {given} of {request_shown['approvals_required']}"
    return str(request_shown.get("state"))


def _request_ids(response: Response) -> list[str | None]:
    """Return the requests an attempt was about: the one in the URL or the answer, else every id it sent."""
    named = (request.view_args or {}).get("request_id")
    body = response.get_json(silent=True) if response.is_json else None
    answered = body.get("id") if isinstance(body, dict) else None
    if named or answered:
        return [named or (answered if isinstance(answered, str) else None)]
    if (request.content_length or 0) > current_app.config["MAX_BODY_BYTES"]:
        return [None]  # refused unread: nothing to name
    sent = request.get_json(silent=True) if request.is_json else None
    ids = sent.get("ids") if isinstance(sent, dict) else request.form.getlist("ids")
    if isinstance(ids, list) and 0 < len(ids) <= MAX_IDS and all(isinstance(each, str) for each in ids):
        return list(dict.fromkeys(ids))  # a refused bulk attempt shows in each request's trail
    return [None]


def record(response: Response) -> Response:
    """Record a POST to a deciding view in the audit trail."""
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method != "POST" or not getattr(view, "approvers_only", False):
        return response
    user = auth.current_user()
    actor = user.name if user else None
    role = user.role if user else ("local" if g.get("sign_in") is False else None)
    action = (request.view_args or {}).get("action") or request.form.get("action") or request.endpoint or ""
    each: list[tuple[str | None, int, str]] = g.get("audit_each") or [
        (request_id, response.status_code, _outcome(response)) for request_id in _request_ids(response)
    ]
    refused = current_app.extensions["metrics"].refused
    for request_id, status, outcome in each:
        if status >= 400:
            refused.labels(outcome).inc()
        attempt = AuditAttempt(actor, role, auth.client_address(), action, request_id, status, outcome)
        try:
            get_store().record_attempt(attempt)
        except StoreUnavailable as error:  # the attempt is refused, and its answer must still reach the caller
            log.error("attempt to decide not audited, the store failed (%s): %s", error.message, attempt)
    return response


def record_each(outcomes: list[Outcome]) -> None:
    """Have a decision of several requests recorded as one attempt per request, with its own outcome."""
    g.audit_each = [
        (
            outcome.id,
            outcome.status,
            state_reached(outcome.answer) if isinstance(outcome.answer, dict) else outcome.result,
        )
        for outcome in outcomes
    ]


@bp.get("/approvals/<request_id>/audit")
@auth.approvers_only
def trail(request_id: str) -> ResponseReturnValue:
    """Return every recorded attempt to decide this request, oldest first (approvers only)."""
    store = get_store()
    trail = store.audit_trail(request_id)
    if not trail and store.get_request(request_id) is None:
        raise RequestNotFound(f"No approval request with id {request_id}.")
    return jsonify(request_id=request_id, events=trail)


def init_app(app: Flask) -> None:
    """Audit every deciding POST; serve the trail."""
    app.after_request(record)
    app.register_blueprint(bp)
