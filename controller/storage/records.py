"""What crosses the store seam: frozen records, the same whichever store keeps them.

Nothing above the storage package sees a database row; it gets these, and a store takes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal, TypedDict, get_args

from controller.core.digest import order_digest
from controller.core.jsontypes import JSONObject
from controller.storage.fields import Fields, number, one_of, optional_text, text

Action = Literal["approve", "reject"]  # what an approver asks for; the state it leads to is in states.DECIDED_BY
Change = Literal["stored", "changed"]  # what happened to a request, as /events names it
Sort = Literal["waiting", "newest", "expiry", "total", "ended"]  # the orders a request list can come in
FollowUpKind = Literal["reminder", "escalation"]  # what the upkeep sends about a request still waiting
NotificationKind = Literal["new", "reminder", "escalation"]  # a new request's notification, or a follow-up's
# whether sign-in is on: "on" while a user exists; "closed" when none is left but one was added since the store was
# new or reopened (it stays closed to local mode); "open" for local mode
SignInState = Literal["on", "closed", "open"]
# each Literal's values, for checking what a store gives back
ACTIONS: tuple[Action, ...] = get_args(Action)
CHANGES: tuple[Change, ...] = get_args(Change)
FOLLOW_UP_KINDS: tuple[FollowUpKind, ...] = get_args(FollowUpKind)
NOTIFICATION_KINDS: tuple[NotificationKind, ...] = get_args(NotificationKind)


def now(after_seconds: float = 0) -> str:
    """Return the current UTC time (or this many seconds on) as ISO 8601 in milliseconds, every timestamp's format."""
    return (datetime.now(timezone.utc) + timedelta(seconds=after_seconds)).isoformat(timespec="milliseconds")


@dataclass
class Health:
    """Whether the store last failed (its disk, or the table out of reach), why and since when; None once a write
    went through again. Shared, and updated in place, by every store of one backend in a process."""

    failure: str | None = None
    since: str | None = None


@dataclass(frozen=True)
class Decision:
    """An approver's decision on one request, before and after it is stored with it."""

    action: Action
    approver: str | None = None
    comment: str | None = None
    reason: str | None = None  # a rejection's cause for Step Functions; None for an approval


@dataclass(frozen=True)
class ExecutionStatus:
    """What DescribeExecution said of a request's execution (status DOES_NOT_EXIST when it is gone)."""

    status: str
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class NewRequest:
    """An approval request as the state machine's message brings it, before it is stored."""

    id: str
    execution_arn: str
    task_token: str = field(repr=False)  # the key to the execution: never logged, never shown
    order: JSONObject
    requested_at: str
    expires_at: str
    rule: JSONObject | None = None  # the approval rule it is decided under, opaque here; None: any approver
    remind_at: str | None = None  # when its rule has those who may decide reminded; None: never
    escalate_at: str | None = None  # when its rule lets the escalation groups decide too; None: never


@dataclass(frozen=True)
class Lease:
    """Who holds the lease on a piece of work, as a request to take it found, and until when: wall-clock time, as
    written in the store, so that any controller can tell when it ends (the store compares it with the taker's now)."""

    owner: str
    expires_at: str

    def held_by(self, owner: str) -> bool:
        return self.owner == owner


@dataclass(frozen=True)
class FollowUp:
    """A reminder or an escalation whose time has come for a request, not taken yet."""

    request_id: str
    kind: FollowUpKind


@dataclass(frozen=True)
class Approval:
    """One person's approval of a request that a rule has several people approve."""

    approver: str
    at: str
    comment: str | None = None


ApprovalResult = Literal["claimed", "recorded", "duplicate", "not pending"]


@dataclass(frozen=True)
class ApprovalOutcome:
    """What came of adding an approval: the request claimed (the rule's count reached), the approval
    recorded (more are needed), refused as this approver's second, or refused as the request is not pending."""

    result: ApprovalResult
    claimed: ApprovalRequest | None = None


class PublicRequest(TypedDict):
    """What the API and the page show of a request, in this order: no task token, no bookkeeping."""

    id: str
    execution_arn: str
    requested_at: str
    expires_at: str
    received_at: str
    state: str
    decision: Action | None
    approver: str | None
    comment: str | None
    reason: str | None
    decided_at: str | None
    closed_reason: str | None
    claimed_at: str | None
    order: JSONObject
    order_digest: str


@dataclass(frozen=True)
class ApprovalRequest:
    """A stored approval request: its order, its state, and the decision taken on it, if any."""

    id: str
    execution_arn: str
    task_token: str = field(repr=False)  # kept for SendTaskSuccess/SendTaskFailure; public() leaves it out
    order: JSONObject
    requested_at: str
    expires_at: str
    received_at: str
    checked_at: str  # when the execution was last looked at: bookkeeping, not shown
    state: str
    decision: Decision | None
    decided_at: str | None
    closed_reason: str | None
    claimed_at: str | None
    final_execution: ExecutionStatus | None  # kept once the execution has ended: not shown
    rule: JSONObject | None = None  # the approval rule fixed when it was stored; not shown as such

    def public(self) -> PublicRequest:
        """Return what may be shown of the request: everything but the task token and the bookkeeping."""
        decision = self.decision
        return {
            "id": self.id,
            "execution_arn": self.execution_arn,
            "requested_at": self.requested_at,
            "expires_at": self.expires_at,
            "received_at": self.received_at,
            "state": self.state,
            "decision": decision.action if decision else None,
            "approver": decision.approver if decision else None,
            "comment": decision.comment if decision else None,
            "reason": decision.reason if decision else None,
            "decided_at": self.decided_at,
            "closed_reason": self.closed_reason,
            "claimed_at": self.claimed_at,
            "order": self.order,
            "order_digest": order_digest(self.order),  # what a decision names to say which order it saw
        }


@dataclass(frozen=True)
class StoredEvent:
    """One change of a request, numbered in the order the store saw it: what /events streams."""

    seq: int
    kind: Change
    request_id: str
    state: str


@dataclass(frozen=True)
class DueNotification:
    """A webhook notification about a request that is due to be sent, after `attempts` failed ones."""

    request: ApprovalRequest
    attempts: int
    kind: NotificationKind = "new"


@dataclass(frozen=True)
class NotificationCounts:
    """How many notifications were delivered, failed for good, or still wait."""

    delivered: int
    failed: int
    waiting: int


@dataclass(frozen=True)
class User:
    """Someone who may sign in; only hashes of their password and API token are kept."""

    name: str
    role: str
    password_hash: str = field(repr=False)
    token_hash: str = field(repr=False)
    created_at: str
    groups: tuple[str, ...] = ()  # approval rules name who may decide by group


@dataclass(frozen=True)
class AuditAttempt:
    """An attempt to decide, as the web layer saw it: who, from where, what, and how it ended."""

    actor: str | None
    role: str | None
    address: str | None
    action: str
    request_id: str | None
    status: int
    outcome: str


@dataclass(frozen=True)
class AuditEvent:
    """A recorded attempt to decide, numbered and timed by the store."""

    id: int
    at: str
    actor: str | None
    role: str | None
    address: str | None
    action: str
    request_id: str | None
    status: int
    outcome: str


@dataclass(frozen=True)
class SetAsideMessage:
    """A queue message that is not an approval request (its body is never kept: it may hold a token)."""

    message_id: str
    reason: str
    receive_count: int
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class PendingSummary:
    """How many requests wait, the oldest one's request time and the first expiry among them (None when none)."""

    count: int
    oldest_requested_at: str | None
    soonest_expires_at: str | None


@dataclass(frozen=True)
class DecisionTimes:
    """Times from storing to approving or rejecting, as a histogram: per bound, how many took at most that long."""

    bounds: tuple[float, ...]
    at_most: tuple[int, ...]  # cumulative, one per bound
    count: int
    total_seconds: float


@dataclass(frozen=True)
class RequestQuery:
    """Which requests to list and in which order; each filter left None matches everything.

    text matches, case-insensitively and anywhere in it, the request id, the order id, the customer's
    name or id, or a line item's SKU; customer and approver match a part of the name too. Times are
    the store's ISO 8601 timestamps: requested_from inclusive, requested_before exclusive.
    """

    states: tuple[str, ...]
    text: str | None = None
    customer: str | None = None
    approver: str | None = None
    requested_from: str | None = None
    requested_before: str | None = None
    min_total: float | None = None
    max_total: float | None = None
    currency: str | None = None
    sort: Sort = "waiting"  # waiting: oldest first; newest; expiry: soonest first; total: highest; ended: latest


@dataclass(frozen=True)
class DailyOutcomes:
    """How many requests ended on one UTC day (YYYY-MM-DD), by the state they ended in."""

    day: str
    counts: dict[str, int]


@dataclass(frozen=True)
class KeptRequest:
    """A request with the bookkeeping a store keeps besides it: when its follow-ups are due and were taken."""

    request: ApprovalRequest
    remind_at: str | None = None
    escalate_at: str | None = None
    reminded_at: str | None = None
    escalated_at: str | None = None


@dataclass(frozen=True)
class KeptNotification:
    """A notification as a store keeps it: waiting (to be sent at next_attempt_at), delivered, or given up on."""

    request_id: str
    kind: NotificationKind
    attempts: int
    next_attempt_at: str
    delivered_at: str | None = None
    failed_at: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class StoreContents:
    """Everything a store keeps that outlives one controller, to copy it to another store whole.

    Page sessions, sign-in attempts and leases are not in it: they last minutes, and a copy starts without them.
    """

    requests: tuple[KeptRequest, ...]
    approvals: tuple[tuple[str, Approval], ...]  # (request id, approval)
    notifications: tuple[KeptNotification, ...]
    users: tuple[User, ...]
    users_since: str | None  # when the store closed to local mode (a user was added), None while it is open
    audit: tuple[AuditEvent, ...]
    set_aside: tuple[SetAsideMessage, ...]
    latest_event: int  # the number of the latest change announced, 0 before any


# --- records from what a store keeps: SQLite's columns and DynamoDB's attributes have the same names ---------


def request_from(fields: Fields) -> ApprovalRequest:
    """Return the request kept in these fields: the order, the rule and the final execution as JSON, the decision
    in four fields of its own (all None before one is taken)."""
    decision = None
    if fields.get("decision") is not None:
        decision = Decision(
            one_of(fields, "decision", ACTIONS),
            optional_text(fields, "approver"),
            optional_text(fields, "comment"),
            optional_text(fields, "reason"),
        )
    final = json.loads(text(fields, "final_execution")) if fields.get("final_execution") else None
    rule = optional_text(fields, "rule_json")
    return ApprovalRequest(
        id=text(fields, "id"),
        execution_arn=text(fields, "execution_arn"),
        task_token=text(fields, "task_token"),
        order=json.loads(text(fields, "order_json")),
        requested_at=text(fields, "requested_at"),
        expires_at=text(fields, "expires_at"),
        received_at=text(fields, "received_at"),
        checked_at=text(fields, "checked_at"),
        state=text(fields, "state"),
        decision=decision,
        decided_at=optional_text(fields, "decided_at"),
        closed_reason=optional_text(fields, "closed_reason"),
        claimed_at=optional_text(fields, "claimed_at"),
        final_execution=ExecutionStatus(**final) if final else None,
        rule=json.loads(rule) if rule else None,
    )


def user_from(fields: Fields) -> User:
    """Return the user kept in these fields, their groups as a JSON list."""
    groups = tuple(json.loads(optional_text(fields, "groups_json") or "[]"))
    return User(
        text(fields, "name"),
        text(fields, "role"),
        text(fields, "password_hash"),
        text(fields, "token_hash"),
        text(fields, "created_at"),
        groups,
    )


def audit_event_from(fields: Fields) -> AuditEvent:
    """Return the recorded attempt kept in these fields (numbers may come back as decimals)."""
    return AuditEvent(
        number(fields, "id"),
        text(fields, "at"),
        optional_text(fields, "actor"),
        optional_text(fields, "role"),
        optional_text(fields, "address"),
        text(fields, "action"),
        optional_text(fields, "request_id"),
        number(fields, "status"),
        text(fields, "outcome"),
    )
