"""A request under an approval rule: who may decide it now, the approvals it has, and what the page shows.

A request stored without a policy file has no rule: any approver decides it alone, as before rules
existed, and nothing here changes how it is shown or decided.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from controller.approval.policy import AppliedRule
from controller.core.errors import AlreadyApproved, ApprovalError, InvalidInput, NotAllowed
from controller.storage import store

ADD_APPROVER = "python -m controller users add NAME --role approver --group GROUP"


def rule_of(row: sqlite3.Row) -> AppliedRule | None:
    """Return the rule a stored request is decided under, or None when it was stored without a policy."""
    return AppliedRule.from_json(row["rule_json"]) if row["rule_json"] else None


def refusal(
    db: sqlite3.Connection, row: sqlite3.Row, rule: AppliedRule, decision: dict[str, Any], groups: Sequence[str] | None
) -> ApprovalError | None:
    """Return the error that keeps this decider from this decision now, or None when they may take it.

    `groups` is None when nobody signed in (local mode): a rule cannot tell who decides then.
    """
    at, name = datetime.now(timezone.utc), decision["approver"]
    if groups is None:
        why = f"Rule '{rule.name}' needs to know who decides: sign in (add approvers with {ADD_APPROVER})."
        return NotAllowed(why, may_decide=rule.deciders(at))
    ineligible = rule.refusal(name, groups, json.loads(row["order_json"]).get("requested_by"), at)
    if ineligible is not None:
        return NotAllowed(ineligible, may_decide=rule.deciders(at))
    if decision["decision"] == "approve" and any(given["approver"] == name for given in store.approvals(db, row["id"])):
        return already_approved(db, row["id"], rule, name)
    if decision["decision"] == "reject" and rule.require_reject_reason and not decision["reason"]:
        return InvalidInput(f"Rule '{rule.name}' needs a reason to reject: send 'reason'.")
    return None


def why_not(db: sqlite3.Connection, row: sqlite3.Row, name: str | None, groups: Sequence[str] | None) -> dict[str, Any]:
    """Return, for the page, why this person may not approve or may not reject the request now (None: they may)."""
    rule = rule_of(row)
    if rule is None:
        return {"approve": None, "reject": None}
    reasons = {}
    for kind in ("approve", "reject"):  # a reason to reject is typed on the page, so its absence is not asked about
        refused = refusal(db, row, rule, {"decision": kind, "approver": name, "reason": "given"}, groups)
        reasons[kind] = refused.message if refused else None
    return reasons


def already_approved(db: sqlite3.Connection, request_id: str, rule: AppliedRule, name: str) -> AlreadyApproved:
    """Return the error for a second approval by the same person."""
    return AlreadyApproved(
        f"{name} has approved request {request_id} already; it needs another person's approval.",
        approvals=store.approvals(db, request_id),
        approvals_required=rule.approvals,
    )


def output(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """Return SendTaskSuccess's output for an approved request; under a rule, with its name and every approval."""
    approved = {"status": "APPROVED", "approver": row["approver"], "comment": row["comment"]}
    rule = rule_of(row)
    if rule is None:
        return approved
    return {**approved, "rule": rule.name, "approvals": store.approvals(db, row["id"])}


def shown(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """Return what may be shown of a request; under a rule, with the rule, its approvals and how many it needs."""
    public = store.public(row)
    rule = rule_of(row)
    if rule is None:
        return public
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
        "approvals": store.approvals(db, row["id"]),
        "approvals_required": rule.approvals,
    }
