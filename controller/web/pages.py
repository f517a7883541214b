"""The approver's web page: pending requests with Approve/Reject forms, and recent outcomes."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from controller.access import auth
from controller.approval import decisions, quorum
from controller.core import states, text
from controller.core.digest import DIGEST
from controller.core.errors import ApprovalError
from controller.service import aws
from controller.storage.context import backend_of, get_store
from controller.storage.interface import Store
from controller.storage.records import Action, ApprovalRequest
from controller.web import audit, finding, listing
from controller.web.security import csrf_ok

bp = Blueprint("pages", __name__)
PAGE_SIZE = 100  # pending requests shown a page; the heading still counts them all
MAX_SELECTED = PAGE_SIZE  # a decision from the page covers at most the cards it shows
FORM_FIELDS = {"approve": ("approver",), "reject": ("approver", "reason")}
ACTIONS: dict[str, Action] = {"approve": "approve", "reject": "reject"}  # the selection form's buttons
# what the approver reads first for each error the API can return
ERROR_TITLES = {
    "InvalidInput": "Not sent",
    "RequestNotFound": "Not found",
    "AlreadyDecided": "Already decided",
    "OrderChanged": "Not decided, the order changed",
    "RequestExpired": "Expired",
    "AwsUnavailable": "AWS unreachable, nothing was decided; try again",
    "StoreUnavailable": "The store is failing; try again once it recovers",
}


def _page_data() -> dict[str, object]:
    """Return what the page shows: the pending requests the URL asks for, warnings, recent outcomes."""
    found = finding.pending(PAGE_SIZE, PAGE_SIZE)
    warnings, store = listing.refresh_warnings(), get_store()
    shown, matched = listing.find_pending(store, found)
    return {
        "pending": [_standing(store, request) for request in shown],
        "pending_count": store.count_pending(),
        "found": found,
        "matched": matched,
        "filtered": finding.filtered(found.query),
        "page_args": finding.page_args,
        "warnings": warnings,
        "recent": listing.recent_outcomes(store),
    }


def _standing(store: Store, request: ApprovalRequest) -> dict[str, object]:
    """Return a pending request as its card shows it: its rule and approvals, and why the viewer may not decide."""
    user = auth.current_user()
    name = user.name if user else None
    return {**quorum.shown(store, request), "why_not": quorum.why_not(store, request, name, auth.decider_groups())}


@bp.get("/")
def index() -> ResponseReturnValue:
    """Show the approver's page."""
    return render_template("index.html", refresh_seconds=current_app.config["PAGE_REFRESH_SECONDS"], **_page_data())


@bp.get("/ui/requests")
def requests_fragment() -> ResponseReturnValue:
    """Return the page's live part as an HTML fragment, for the page's polling script."""
    return render_template("_requests.html", **_page_data())


@bp.post("/ui/approver")
def set_approver() -> ResponseReturnValue:
    """Remember the approver's name for this browser session (local mode: signed in, the name is the user's)."""
    if not csrf_ok():
        return _refused()
    if auth.current_user() is not None:
        flash("Decisions are recorded under the name you signed in with.", "error")
        return redirect(url_for("pages.index"), code=303)
    session["approver"] = request.form.get("approver", "").strip()[: decisions.FIELD_LIMITS["approver"]]
    flash(f"Deciding as {session['approver']}." if session["approver"] else "Deciding without a name.", "success")
    return redirect(url_for("pages.index"), code=303)


@bp.post("/ui/<any(approve, reject):action>/<request_id>")
@auth.approvers_only
def decide(action: Action, request_id: str) -> ResponseReturnValue:
    """Approve or reject one request from the page's form, then show the page again (Post/Redirect/Get)."""
    if not csrf_ok():
        g.audit_outcome = "CsrfTokenMissing"
        return _refused()
    fields = {"approver": session.get("approver", ""), "reason": request.form.get("reason", "").strip()}
    try:
        expected = decisions.expected_digest(dict(request.form.items()))
        decision, _ = auth.as_signed_in(decisions.validate(action, {key: fields[key] for key in FORM_FIELDS[action]}))
        with aws.slot():
            decided = decisions.decide(
                get_store(), aws.stepfunctions(), request_id, decision, expected, auth.decider_groups()
            )
    except ApprovalError as error:
        g.audit_outcome = error.code
        flash(f"{ERROR_TITLES.get(error.code, 'Refused')}: {error.message}", "error")
    else:
        g.audit_outcome = audit.state_reached(decided)
        order = decided["order"]
        order_id = order.get("order_id", request_id) if isinstance(order, dict) else request_id
        done = (
            f"{order_id} {g.audit_outcome}" if decided["state"] != states.PENDING else f"{order_id}: {g.audit_outcome}"
        )
        flash(f"Order {done}.", "success")
    return redirect(url_for("pages.index"), code=303)


@bp.post("/ui/selected")
@auth.approvers_only
def decide_selected() -> ResponseReturnValue:
    """Approve or reject every request selected on the page, each on its own, then show the page again."""
    if not csrf_ok():
        g.audit_outcome = "CsrfTokenMissing"
        return _refused()
    action = ACTIONS.get(request.form.get("action", ""))
    ids = list(dict.fromkeys(request.form.getlist("ids")))  # each id once
    if action is None or not ids:
        flash("Select one or more requests, then Approve selected or Reject selected.", "error")
        return redirect(url_for("pages.index"), code=303)
    fields = {"approver": session.get("approver", ""), "reason": request.form.get("reason", "").strip()}
    config = current_app.config
    shown = dict(entry.partition(" ")[::2] for entry in request.form.getlist("digests"))  # "id digest" per card
    try:
        decision, _ = auth.as_signed_in(decisions.validate(action, {key: fields[key] for key in FORM_FIELDS[action]}))
        with aws.slot():
            outcomes = decisions.decide_many(
                backend_of(current_app),
                aws.stepfunctions(),
                ids[:MAX_SELECTED],
                decision,
                config["DECISION_PARALLEL"],
                expected={key: value for key, value in shown.items() if DIGEST.fullmatch(value)},
                groups=auth.decider_groups(),
            )
    except ApprovalError as error:
        g.audit_outcome = error.code
        flash(f"{ERROR_TITLES.get(error.code, 'Refused')}: {error.message}", "error")
        return redirect(url_for("pages.index"), code=303)
    audit.record_each(outcomes)
    if len(ids) > MAX_SELECTED:
        flash(f"Only the first {MAX_SELECTED} selected requests were decided; select the rest again.", "error")
    done = [outcome for outcome in outcomes if outcome.status == 200]
    if done:
        flash(f"{len(done)} {'request' if len(done) == 1 else 'requests'} {states.DECIDED_BY[action]}.", "success")
    for outcome in outcomes:
        if isinstance(outcome.answer, ApprovalError):
            flash(f"{ERROR_TITLES.get(outcome.answer.code, 'Refused')}: {outcome.answer.message}", "error")
    return redirect(url_for("pages.index"), code=303)


def _refused() -> ResponseReturnValue:
    """Answer a form post whose token is missing or wrong: nothing is decided."""
    return render_template("refused.html"), 403


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp).astimezone(timezone.utc)


def duration(seconds: float) -> str:
    """Return a short human duration: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours = seconds // 60, seconds // 3600
    if hours < 1:
        return f"{minutes} min"
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def since(timestamp: str) -> str:
    """Return how long ago an ISO timestamp was."""
    return duration((datetime.now(timezone.utc) - _parse(timestamp)).total_seconds())


def until(timestamp: str) -> str:
    """Return how long until an ISO timestamp."""
    return duration((_parse(timestamp) - datetime.now(timezone.utc)).total_seconds())


def money(amount: object) -> str:
    """Return an amount with two decimals, or a dash when the order carries none."""
    return f"{amount:,.2f}" if isinstance(amount, (int, float)) and not isinstance(amount, bool) else "-"


def init_app(app: Flask) -> None:
    """Register the page and its template helpers."""
    app.jinja_env.filters.update(since=since, until=until, money=money)
    app.jinja_env.finalize = text.neutralised  # every {{ value }}: bidi and control characters shown, not obeyed
    app.register_blueprint(bp)
