"""Reminders and escalations of requests still waiting under a rule, through the notification outbox.

The times were fixed when the request was stored (policy.AppliedRule). Once one has come, the upkeep
takes it: the store marks the request reminded (or escalated) and queues its notification in one
step, only while the request is pending, so each is written at most once per request; the outbox
then delivers it at least once, retried like any other. An escalation lets the escalation groups
decide from its time on (AppliedRule.refusal), whether or not the notification went out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from controller.approval import quorum
from controller.core import states
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest, FollowUpKind, now

BATCH = 50


def take_due(store: Store, notify: bool) -> int:
    """Take the reminders and escalations whose time has come; with notify, queue their notifications. Return how
    many this call took (another controller of the same store may take some first)."""
    return sum(store.take_follow_up(due.request_id, due.kind, notify) for due in store.due_follow_ups(BATCH))


def has_ended(request: ApprovalRequest) -> bool:
    """Whether a request can no longer be decided, so that no follow-up of it may go out: it ended, or its approval
    timeout passed before the upkeep marked it expired."""
    return request.state in states.ENDED or request.expires_at <= now()


@dataclass(frozen=True)
class Deciders:
    """Who may decide a request now, in words ("members of finance") and the users that means, with its
    approvals so far."""

    words: str
    names: tuple[str, ...]
    approved: int
    required: int


def still_to_decide(store: Store, request: ApprovalRequest, kind: FollowUpKind) -> Deciders:
    """Return who may decide the request now: for a reminder, those who may and have not approved it yet; for an
    escalation, those of them in the escalation groups."""
    rule = quorum.rule_of(request)
    if rule is None:  # a request stored without a rule has no follow-ups
        return Deciders("any approver", (), 0, 1)
    at = datetime.now(timezone.utc)
    approved = {given.approver for given in store.approvals(request.id)}
    requested_by = request.order.get("requested_by")
    names = tuple(
        user.name
        for user in store.users()
        if user.role == "approver"
        and user.name not in approved
        and rule.refusal(user.name, user.groups, requested_by, at) is None
        and (kind == "reminder" or set(user.groups) & set(rule.escalation_groups))
    )
    words = f"members of {', '.join(rule.escalation_groups)}" if kind == "escalation" else rule.deciders(at)
    return Deciders(words, names, len(approved), rule.approvals)
