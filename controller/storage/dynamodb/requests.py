"""Approval requests on the table, from arrival to their end, and the approvals a rule counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from controller.core import states
from controller.storage import fields
from controller.storage.dynamodb.events import Events
from controller.storage.dynamodb.items import (
    BY_CHECK,
    ENDED,
    LAST,
    approval_key,
    plain,
    request_key,
    update_of,
    wire,
)
from controller.storage.dynamodb.layout import (
    approval_item,
    final_execution_json,
    follow_up_item,
    notification_item,
    request_item,
)
from controller.storage.interface import TIMEOUT_PASSED
from controller.storage.records import (
    Approval,
    ApprovalOutcome,
    ApprovalRequest,
    Decision,
    ExecutionStatus,
    FollowUpKind,
    KeptNotification,
    KeptRequest,
    NewRequest,
    now,
    request_from,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class Requests(Events):
    """Approval requests: stored, listed, claimed, approved under a rule, finished."""

    def save_request(self, request: NewRequest, notify: bool = False) -> bool:
        stamp = now()
        stored = ApprovalRequest(
            request.id,
            request.execution_arn,
            request.task_token,
            request.order,
            request.requested_at,
            request.expires_at,
            received_at=stamp,
            checked_at=stamp,
            state=states.PENDING,
            decision=None,
            decided_at=None,
            closed_reason=None,
            claimed_at=None,
            final_execution=None,
            rule=request.rule,
        )
        item = request_item(KeptRequest(stored, request.remind_at, request.escalate_at))
        put: TransactWriteItemTypeDef = {
            "Put": {"TableName": self.table, "Item": wire(item), "ConditionExpression": "attribute_not_exists(pk)"}
        }
        notification = notification_item(KeptNotification(request.id, "new", 0, stamp))
        also: list[TransactWriteItemTypeDef] = (
            [{"Put": {"TableName": self.table, "Item": wire(notification)}}] if notify else []
        )
        stored_now = self._commit(put, "stored", request.id, states.PENDING, *also, *self._follow_up_markers(request))
        if stored_now:
            self.seen.keep([(stored, len(fields.text(item, "order_json")))])
        return stored_now

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        item = self._get(request_key(request_id))
        return request_from(item) if item else None

    def request_as_seen(self, request_id: str) -> ApprovalRequest | None:
        return self.seen.take(request_id) or self.get_request(request_id)

    def pending(self, limit: int = -1) -> list[ApprovalRequest]:
        listed = self._requests(self._list(states.PENDING, limit=limit))
        return [request for request in listed if request.state == states.PENDING]

    def _requests(self, items: Iterable[dict[str, object]]) -> list[ApprovalRequest]:
        """The requests of these items, the pending ones kept for a decision to start from."""
        read = [(request_from(item), len(fields.text(item, "order_json"))) for item in items]
        self.seen.keep(read)
        return [request for request, _ in read]

    def count_pending(self) -> int:
        return sum(1 for _ in self._list(states.PENDING))

    def recent_ended(self, limit: int = 10) -> list[ApprovalRequest]:
        return [request_from(item) for item in self._list(ENDED, newest_first=True, limit=limit)]

    def expire_overdue(self, request_id: str | None = None) -> None:
        stamp = now()
        if request_id is not None:
            found = self.get_request(request_id)
            overdue = [found] if found else []
        else:
            overdue = [request_from(item) for item in self._list(states.PENDING)]
        for request in overdue:
            if request.state == states.PENDING and request.expires_at <= stamp:
                self._move(request, states.EXPIRED, {"closed_reason": TIMEOUT_PASSED})

    def stale(self, older_than_seconds: float, limit: int) -> list[ApprovalRequest]:
        items = self._query(
            limit,
            IndexName=BY_CHECK,
            KeyConditionExpression="check_key = :key AND check_order <= :upto",
            ExpressionAttributeValues=wire({":key": states.PENDING, ":upto": now(-older_than_seconds) + LAST}),
        )
        return [request_from(item) for item in items]

    def touch(self, request_id: str) -> None:
        stamp = now()
        update = update_of(
            self.table,
            request_key(request_id),
            {"checked_at": stamp, "check_order": f"{stamp}#{request_id}"},
            "attribute_exists(pk)",
        )
        try:
            self.dynamodb.update_item(**update)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def claim(self, request_id: str, decision: Decision, read: ApprovalRequest | None = None) -> ApprovalRequest | None:
        # a record read a while ago (a list's) may be out of date in its state, which the move's condition checks,
        # and in its check time, which a claim does not write: a request being decided is listed by its claim time
        request = read or self.get_request(request_id)
        if request is None or request.state != states.PENDING:
            return None
        claimed_at = now()
        values = {
            "decision": decision.action,
            "approver": decision.approver,
            "comment": decision.comment,
            "reason": decision.reason,
            "claimed_at": claimed_at,
        }
        if not self._move(request, states.DECIDING, values):
            return None
        return replace(request, state=states.DECIDING, decision=decision, claimed_at=claimed_at)

    def stale_claims(self, older_than_seconds: float) -> list[ApprovalRequest]:
        return [request_from(item) for item in self._list(states.DECIDING, upto=now(-older_than_seconds) + LAST)]

    def release(self, request_id: str) -> None:
        found = self._get(request_key(request_id)) or {}
        request = request_from(found) if found else None
        if request is None or request.state != states.DECIDING:
            return
        forgotten: dict[str, object] = dict.fromkeys(("decision", "approver", "comment", "reason"))
        decision = request.decision
        if request.rule is not None and decision is not None and decision.action == "approve" and decision.approver:
            # the approval that claimed it goes too, so that its approver can send it again
            forgotten["approval_count"] = max(fields.number(found, "approval_count", 1) - 1, 0)
            key = wire(approval_key(request.id, decision.approver))
            self._move(request, states.PENDING, forgotten, {"Delete": {"TableName": self.table, "Key": key}})
        else:
            self._move(request, states.PENDING, forgotten)

    def add_approval(self, request_id: str, approval: Approval, required: int) -> ApprovalOutcome:
        item = approval_item(request_id, approval)
        put: TransactWriteItemTypeDef = {
            "Put": {"TableName": self.table, "Item": wire(item), "ConditionExpression": "attribute_not_exists(pk)"}
        }
        found, tries = self._get(request_key(request_id)), 0
        while True:
            counted = fields.number(found, "approval_count", 0) if found else 0
            if found is None or found["state"] != states.PENDING or counted >= required:
                return ApprovalOutcome("not pending")  # or about to be claimed by the approval that made the count
            # the count moves one at a time, so exactly one approval makes it reach `required`
            count = update_of(
                self.table,
                request_key(request_id),
                {"approval_count": counted + 1},
                "#state = :pending AND (attribute_not_exists(approval_count) OR approval_count = :seen)",
                {"#state": "state"},
                pending=states.PENDING,
                seen=counted,
            )
            count["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            reasons = self._transact({"Update": count}, put)
            if reasons is None:
                if counted + 1 < required:
                    return ApprovalOutcome("recorded")
                decision = Decision("approve", approval.approver, approval.comment)
                claimed = self.claim(request_id, decision, request_from(found))
                return ApprovalOutcome("claimed", claimed) if claimed else ApprovalOutcome("not pending")
            if reasons[1].get("Code") == "ConditionalCheckFailed":
                return ApprovalOutcome("duplicate")
            # the request moved or another approval counted first: go on from the request as it is now
            moved = reasons[0].get("Item")
            found, tries = plain(moved) if moved else None, self._pause(tries)

    def approvals(self, request_id: str) -> list[Approval]:
        items = self._partition(f"request#{request_id}", "begins_with(sk, :approval)", {":approval": "approval#"})
        found = [
            Approval(fields.text(item, "approver"), fields.text(item, "at"), fields.optional_text(item, "comment"))
            for item in items
        ]
        return sorted(found, key=lambda approval: (approval.at, approval.approver))

    def finish(
        self,
        request_id: str,
        state: str,
        closed_reason: str | None,
        from_state: str,
        read: ApprovalRequest | None = None,
    ) -> ApprovalRequest | None:
        request = read or self.get_request(request_id)
        if request is None or request.state != from_state:
            return None
        decided_at = now() if state in states.DECIDED else None
        if not self._move(request, state, {"decided_at": decided_at, "closed_reason": closed_reason}):
            return None
        return replace(request, state=state, decided_at=decided_at, closed_reason=closed_reason)

    def keep_final_execution(self, request_id: str, execution: ExecutionStatus) -> None:
        kept = final_execution_json(execution)
        self.dynamodb.update_item(**update_of(self.table, request_key(request_id), {"final_execution": kept}))

    def _follow_up_markers(self, request: NewRequest) -> list[TransactWriteItemTypeDef]:
        """Puts of the items that list a new request's reminder and escalation under `follow-ups` by due time."""
        markers: list[TransactWriteItemTypeDef] = []
        times: dict[FollowUpKind, str | None] = {"reminder": request.remind_at, "escalation": request.escalate_at}
        for kind, due in times.items():
            if due is not None:
                item = follow_up_item(request.id, kind, due)
                markers.append({"Put": {"TableName": self.table, "Item": wire(item)}})
        return markers
