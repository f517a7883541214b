"""A request under an approval rule: who may decide it now, the approvals it has, and what the page shows.

A request stored without a policy file has no rule: any approver decides it alone, as before rules
existed, and nothing here changes how it is shown or decided.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone

from controller.approval.policy import AppliedRule
from controller.core.errors import AlreadyApproved, ApprovalError, InvalidInput, NotAllowed
from controller.storage.interface import Store
from controller.storage.records import Action, ApprovalRequest, Decision

ADD_APPROVER = "python -m controller users add NAME --role approver --group GROUP"


def rule_of(request: ApprovalRequest) -> AppliedRule | None:
    """Return the rule a stored request is decided under, or None when it was stored without a policy."""
    return AppliedRule.from_json(json.dumps(request.rule)) if request.rule else None


def approvals(store: Store, request_id: str) -> list[dict[str, str | None]]:
    """Return the approvals a request has received, as the API shows them: approver, at, comment."""
    return [asdict(given) for given in store.approvals(request_id)]


def refusal(
    store: Store, request: ApprovalRequest, rule: AppliedRule, decision: Decision, groups: Sequence[str] | None
) -> ApprovalError | None:
    """Return the error that keeps this decider from this decision now, or None when they may take it.

    `groups` is None when nobody signed in (local mode): a rule cannot tell who decides then.
    """
    at, name = datetime.now(timezone.utc), decision.approver
    if groups is None:
        why = f"Rule '{rule.name}' needs to know who decides: sign in (add approvers with {ADD_APPROVER})."
        return NotAllowed(why, may_decide=rule.deciders(at))
    ineligible = rule.refusal(name or "", groups, request.order.get("requested_by"), at)
    if ineligible is not None:
        return NotAllowed(ineligible, may_decide=rule.deciders(at))
    if decision.action == "approve" and any(given.approver == name for given in store.approvals(request.id)):
        return already_approved(store, request.id, rule, name or "")
    if decision.action == "reject" and rule.require_reject_reason and not decision.reason:
        return InvalidInput(f"Rule '{rule.name}' needs a reason to reject: send 'reason'.")
    return None


def why_not(
    store: Store, request: ApprovalRequest, name: str | None, groups: Sequence[str] | None
) -> dict[str, str | None]:
    """Return, for the page, why this person may not approve or may not reject the request now (None: they may)."""
    rule = rule_of(request)
    if rule is None:
        return {"approve": None, "reject": None}
    reasons: dict[str, str | None] = {}
    actions: tuple[Action, ...] = ("approve", "reject")
    for action in actions:  # a reason to reject is typed on the page, so its absence is not asked about
        refused = refusal(store, request, rule, Decision(action, name, reason="given"), groups)
        reasons[action] = refused.message if refused else None
    return reasons


def already_approved(store: Store, request_id: str, rule: AppliedRule, name: str) -> AlreadyApproved:
    """Return the error for a second approval by the same person."""
    return AlreadyApproved(
        f"{name} has approved request {request_id} already; it needs another person's approval.",
        approvals=approvals(store, request_id),
        approvals_required=rule.approvals,
    )


def output(store: Store, request: ApprovalRequest, decision: Decision) -> dict[str, object]:
    """Return SendTaskSuccess's output for an approved request; under a rule, with its name and every approval."""
    approved: dict[str, object] = {"status": "APPROVED", "approver": decision.approver, "comment": decision.comment}
    rule = rule_of(request)
    if rule is None:
        return approved
    return {**approved, "rule": rule.name, "approvals": approvals(store, request.id)}


def shown(store: Store, request: ApprovalRequest) -> dict[str, object]:
    """Return what may be shown of a request; under a rule, with the rule, its approvals and how many it needs."""
    public = request.public()
    rule = rule_of(request)
    if rule is None:
        return dict(public)
    at = datetime.now(timezone.utc)
    return {
        **public,
        "rule": {
            "name": rule.name,
            "summary": rule.summary(at),
            "may_decide": rule.deciders(at),
            "self_approval": rule.self_approval,
            "escalated": rule.escalated(at),
            "escalate_at": rule.escalate_at and rule.escalate_at.isoformat(timespec="milliseconds"),
            "remind_at": rule.remind_at and rule.remind_at.isoformat(timespec="milliseconds"),
        },
        "approvals": approvals(store, request.id),
        "approvals_required": rule.approvals,
    }
