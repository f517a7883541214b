"""The audit trail: every attempt to decide, taken or refused, with who, when, from where and what.

Recorded after the response is made, for every POST to a view marked approvers_only, whatever
answered it: the view, an error (409, 410, 503), the identity check (401) or the role check (403).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request

from controller.access import auth
from controller.core.errors import RequestNotFound, StoreUnavailable
from controller.storage import store
from controller.storage.db import get_db

bp = Blueprint("audit", __name__)
log = logging.getLogger(__name__)


def _outcome(response: Any) -> str:
    """Return what came of the attempt: the state reached, the error code, or what the page reported."""
    if "audit_outcome" in g:
        return str(g.audit_outcome)
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        return str(body.get("error") or state_reached(body) or response.status_code)
    return str(response.status_code)


def state_reached(request_shown: dict[str, Any]) -> str | None:
    """Return the state a decision left a request in; "approval 1 of 2" for one that needs more."""
    if request_shown.get("state") == "pending" and "approvals_required" in request_shown:
        return f"approval {len(request_shown['approvals'])} of {request_shown['approvals_required']}"
    state: str | None = request_shown.get("state")
    return state


def _request_id(response: Any) -> str | None:
    named = (request.view_args or {}).get("request_id")
    body = response.get_json(silent=True) if response.is_json else None
    return named or (body.get("id") if isinstance(body, dict) else None)


def record(response: Any) -> Any:
    """Record a POST to a deciding view in the audit trail."""
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method != "POST" or not getattr(view, "approvers_only", False):
        return response
    user = auth.current_user()
    attempt = {
        "actor": user.name if user else None,
        "role": user.role if user else ("local" if not g.get("sign_in") else None),
        "address": auth.client_address(),
        "action": (request.view_args or {}).get("kind") or request.form.get("kind") or request.endpoint,
    }
    each = g.get("audit_each") or [
        {"request_id": _request_id(response), "status": response.status_code, "outcome": _outcome(response)}
    ]
    refused = current_app.extensions["metrics"].refused
    for entry in each:
        if entry["status"] >= 400:
            refused.labels(entry["outcome"]).inc()
        try:
            store.audit(get_db(), {**attempt, **entry})
        except StoreUnavailable as error:  # the attempt is refused, and its answer must still reach the caller
            log.error("attempt to decide not audited, the store failed (%s): %s", error.message, {**attempt, **entry})
    return response


def record_each(outcomes: list[dict[str, Any]]) -> None:
    """Have a decision of several requests recorded as one attempt per request, with its own outcome."""
    g.audit_each = [
        {
            "request_id": outcome["id"],
            "status": outcome["status"],
            "outcome": outcome.get("error") or state_reached(outcome["request"]),
        }
        for outcome in outcomes
    ]


@bp.get("/approvals/<request_id>/audit")
@auth.approvers_only
def trail(request_id: str) -> Any:
    """Return every recorded attempt to decide this request, oldest first (approvers only)."""
    db = get_db()
    if store.get(db, request_id) is None and not store.audit_trail(db, request_id):
        raise RequestNotFound(f"No approval request with id {request_id}.")
    return jsonify(request_id=request_id, events=store.audit_trail(db, request_id))


def init_app(app: Flask) -> None:
    """Audit every deciding POST; serve the trail."""
    app.after_request(record)
    app.register_blueprint(bp)
