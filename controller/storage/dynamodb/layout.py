"""The whole item of each kind of record on the approvals table (docs/shared-store.md, "Items"): what the store
writes when a record is new, and what copying another store in writes for a record in any state."""

from __future__ import annotations

import json

from controller.core import states
from controller.storage.dynamodb.items import (
    ENDED,
    SIGN_IN,
    approval_key,
    follow_up_key,
    notification_key,
    request_key,
    user_key,
)
from controller.storage.records import (
    Approval,
    AuditEvent,
    ExecutionStatus,
    FollowUpKind,
    KeptNotification,
    KeptRequest,
    SetAsideMessage,
    User,
)


def _present(item: dict[str, object]) -> dict[str, object]:
    """The item without the attributes it does not have (DynamoDB keeps no empty attribute)."""
    return {name: value for name, value in item.items() if value is not None}


def request_lists(
    request_id: str, state: str, received_at: str, checked_at: str, claimed_at: str | None, ended_at: str | None
) -> dict[str, str | None]:
    """Where a request in this state is listed: in by_list by its state's time, in by_check while pending."""
    order = {states.PENDING: received_at, states.DECIDING: claimed_at}.get(state, ended_at or checked_at)
    return {
        "list_key": state if state in (states.PENDING, states.DECIDING) else ENDED,
        "list_order": f"{order}#{request_id}",
        "check_key": states.PENDING if state == states.PENDING else None,
        "check_order": f"{checked_at}#{request_id}" if state == states.PENDING else None,
    }


def request_item(kept: KeptRequest, approval_count: int = 0) -> dict[str, object]:
    """The item of a request in any state, with the approvals its rule counted so far."""
    request, decision, final = kept.request, kept.request.decision, kept.request.final_execution
    lists = request_lists(
        request.id, request.state, request.received_at, request.checked_at, request.claimed_at, request.decided_at
    )
    return _present(
        {
            **request_key(request.id),
            "id": request.id,
            "execution_arn": request.execution_arn,
            "task_token": request.task_token,
            "order_json": json.dumps(request.order),
            "requested_at": request.requested_at,
            "expires_at": request.expires_at,
            "received_at": request.received_at,
            "checked_at": request.checked_at,
            "state": request.state,
            "decision": decision.action if decision else None,
            "approver": decision.approver if decision else None,
            "comment": decision.comment if decision else None,
            "reason": decision.reason if decision else None,
            "decided_at": request.decided_at,
            "closed_reason": request.closed_reason,
            "claimed_at": request.claimed_at,
            "final_execution": final_execution_json(final) if final else None,
            "rule_json": None if request.rule is None else json.dumps(request.rule),
            "remind_at": kept.remind_at,
            "escalate_at": kept.escalate_at,
            "reminded_at": kept.reminded_at,
            "escalated_at": kept.escalated_at,
            "approval_count": approval_count or None,
            **lists,
        }
    )


def final_execution_json(execution: ExecutionStatus) -> str:
    """An ended execution's status as a request keeps it."""
    return json.dumps({"status": execution.status, "error": execution.error, "cause": execution.cause})


def approval_item(request_id: str, approval: Approval) -> dict[str, object]:
    """One approver's approval of a request under a rule, in the request's partition."""
    return _present(
        {
            **approval_key(request_id, approval.approver),
            "approver": approval.approver,
            "at": approval.at,
            "comment": approval.comment,
        }
    )


def follow_up_item(request_id: str, kind: FollowUpKind, due: str) -> dict[str, object]:
    """The item that lists a request's reminder or escalation under `follow-ups` by its due time, until taken."""
    return {
        **follow_up_key(request_id, kind),
        "request_id": request_id,
        "kind": kind,
        "list_key": "follow-ups",
        "list_order": f"{due}#{request_id}#{kind}",
    }


def notification_item(notification: KeptNotification) -> dict[str, object]:
    """A notification, listed under `notify` by its next attempt while it waits."""
    waiting = notification.delivered_at is None and notification.failed_at is None
    return _present(
        {
            **notification_key(notification.request_id, notification.kind),
            "request_id": notification.request_id,
            "kind": notification.kind,
            "attempts": notification.attempts,
            "next_attempt_at": notification.next_attempt_at,
            "delivered_at": notification.delivered_at,
            "failed_at": notification.failed_at,
            "last_error": notification.last_error,
            "list_key": "notify" if waiting else None,
            "list_order": f"{notification.next_attempt_at}#{notification.request_id}" if waiting else None,
        }
    )


def user_item(user: User, session_epoch: str) -> dict[str, object]:
    """A user under their name's key; a session is valid while the user keeps the epoch it started in."""
    return {
        **user_key(user.name),
        "name": user.name,
        "role": user.role,
        "password_hash": user.password_hash,
        "token_hash": user.token_hash,
        "created_at": user.created_at,
        "groups_json": json.dumps(sorted(set(user.groups))),
        "session_epoch": session_epoch,
    }


def sign_in_item(user_count: int, users_since: str) -> dict[str, object]:
    """The sign-in state: there once a user was added (closed to local mode), with how many there are."""
    return {**SIGN_IN, "user_count": user_count, "users_since": users_since}


def audit_item(event: AuditEvent) -> dict[str, object]:
    """A numbered attempt to decide, in its request's audit partition by number."""
    return _present({"pk": f"audit#{event.request_id or ''}", "sk": f"{event.id:020d}", **vars(event)})


def set_aside_item(message: SetAsideMessage) -> dict[str, object]:
    """A queue message set aside, listed under `invalid` by when it was last seen."""
    return {
        "pk": "invalid",
        "sk": message.message_id,
        "reason": message.reason,
        "receive_count": message.receive_count,
        "first_seen": message.first_seen,
        "last_seen": message.last_seen,
        "list_key": "invalid",
        "list_order": f"{message.last_seen}#{message.message_id}",
    }
