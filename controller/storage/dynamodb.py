"""The DynamoDB store: the store interface on the approvals table that any number of controllers share.

The items and indexes are those of docs/shared-store.md. Each state change of a request commits in one
TransactWriteItems with its event and the event head moved on by one, so /events numbers are dense and
in commit order on every controller. Items become records here and nowhere else.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from controller.core import states, text
from controller.core.errors import StoreUnavailable
from controller.storage import matching
from controller.storage.interface import TIMEOUT_PASSED
from controller.storage.records import (
    Approval,
    ApprovalOutcome,
    ApprovalRequest,
    AuditAttempt,
    AuditEvent,
    DailyOutcomes,
    Decision,
    DecisionTimes,
    DueNotification,
    ExecutionStatus,
    FollowUp,
    FollowUpKind,
    NewRequest,
    NotificationCounts,
    NotificationKind,
    PendingSummary,
    RequestQuery,
    SetAsideMessage,
    StoredEvent,
    User,
)

SCHEMA_VERSION = 1  # the item layout of docs/shared-store.md
BY_LIST, BY_CHECK = "by_list", "by_check"  # the indexes of stack.json's approvals_table
LAST = "#\uffff"  # appended to a time, sorts after every "<time>#<id>" of that time
HEAD = {"pk": "events-head", "sk": "head"}
SIGN_IN = {"pk": "sign-in", "sk": "state"}  # counts the users; there once one was added, until reopened
UNLOCKED = "attribute_not_exists(locked_until) OR locked_until <= :now"  # of a name's or an address's attempts
ENDED = "ended"  # the by_list partition of requests that ended, whatever their state
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()
# the attributes of a request that say when each follow-up is due and when it was taken
FOLLOW_UP_ATTRIBUTES: dict[FollowUpKind, tuple[str, str]] = {
    "reminder": ("remind_at", "reminded_at"),
    "escalation": ("escalate_at", "escalated_at"),
}


def now() -> str:
    """Return the current UTC time as ISO 8601, as the SQLite store writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _wire(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _request_key(request_id: str) -> dict[str, str]:
    return {"pk": f"request#{request_id}", "sk": "request"}


def _approval_key(request_id: str, approver: str) -> dict[str, str]:
    return {"pk": f"request#{request_id}", "sk": f"approval#{approver}"}


def _notification_key(request_id: str, kind: NotificationKind) -> dict[str, str]:
    # a new request's notification keeps the key it had before follow-ups existed
    return {"pk": "notifications", "sk": request_id if kind == "new" else f"{request_id}#{kind}"}


def _follow_up_key(request_id: str, kind: FollowUpKind) -> dict[str, str]:
    return {"pk": "follow-ups", "sk": f"{request_id}#{kind}"}


def _request(item: dict[str, Any]) -> ApprovalRequest:
    decision = None
    if item.get("decision") is not None:
        decision = Decision(item["decision"], item.get("approver"), item.get("comment"), item.get("reason"))
    final = json.loads(item["final_execution"]) if item.get("final_execution") else None
    return ApprovalRequest(
        id=item["id"],
        execution_arn=item["execution_arn"],
        task_token=item["task_token"],
        order=json.loads(item["order_json"]),
        requested_at=item["requested_at"],
        expires_at=item["expires_at"],
        received_at=item["received_at"],
        checked_at=item["checked_at"],
        state=item["state"],
        decision=decision,
        decided_at=item.get("decided_at"),
        closed_reason=item.get("closed_reason"),
        claimed_at=item.get("claimed_at"),
        final_execution=ExecutionStatus(**final) if final else None,
        rule=json.loads(item["rule_json"]) if item.get("rule_json") else None,
    )


def _user_key(name: str) -> dict[str, str]:
    return {"pk": "users", "sk": text.name_key(name)}  # one item per name, whatever its case or form


def _session_key(secret_hash: str) -> dict[str, str]:
    return {"pk": f"session#{secret_hash}", "sk": "session"}


def _attempts_key(key: str) -> dict[str, str]:
    return {"pk": f"failures#{key}", "sk": "failures"}


def _lease_key(work: str) -> dict[str, str]:
    return {"pk": f"lease#{work}", "sk": "lease"}


def _epoch(timestamp: str) -> int:
    """Return the whole second after a timestamp, for the table's TTL (which only tidies: reads check times)."""
    return int(datetime.fromisoformat(timestamp).timestamp()) + 1


def _user(item: dict[str, Any]) -> User:
    groups = tuple(json.loads(item.get("groups_json", "[]")))
    return User(item["name"], item["role"], item["password_hash"], item["token_hash"], item["created_at"], groups)


def _update(
    key: dict[str, str], values: dict[str, Any], condition: str | None = None, **condition_values: Any
) -> dict[str, Any]:
    """An Update of these attributes (None removes one), under a condition whose :placeholders are given."""
    names = {f"#{index}": name for index, name in enumerate(values)}
    sets = [f"#{index} = :{index}" for index, value in enumerate(values.values()) if value is not None]
    removes = [f"#{index}" for index, value in enumerate(values.values()) if value is None]
    expression = " ".join(
        part for part in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes)) if part
    )
    placeholders = {f":{index}": value for index, value in enumerate(values.values()) if value is not None}
    update: dict[str, Any] = {"Key": _wire(key), "UpdateExpression": expression, "ExpressionAttributeNames": names}
    placeholders |= {f":{name}": value for name, value in condition_values.items()}
    if placeholders:
        update["ExpressionAttributeValues"] = _wire(placeholders)
    if condition:
        update["ConditionExpression"] = condition
    return update


class Health:
    """Why the table last failed to take a write, shared by every store of one backend; None once one did."""

    failure: str | None = None


class Head:
    """The latest event number this process saw committed, shared by every store of one backend: a change is
    first tried against it, and the head is read from the table only when another controller moved it."""

    latest: int | None = None


class DynamoDbStore:
    """The store interface on one table, through a boto3 client that may be shared between threads."""

    def __init__(self, dynamodb: Any, table: str, health: Health | None = None, head: Head | None = None) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.health, self.head = health or Health(), head or Head()

    def close(self) -> None:
        """Nothing to release: the client is the backend's, and every write is committed when it returns."""

    # --- reading -------------------------------------------------------------------------------------

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=self.table, Key=_wire(key), ConsistentRead=True).get("Item")
        return _plain(found) if found else None

    def _query(self, limit: int = -1, **query: Any) -> Iterator[dict[str, Any]]:
        """Yield the items of a query, page after page past DynamoDB's 1 MB, at most limit (-1: all)."""
        if limit == 0:
            return
        taken = 0
        while True:
            if limit > 0:
                query["Limit"] = limit - taken
            page = self.dynamodb.query(TableName=self.table, **query)
            for item in page.get("Items", []):
                yield _plain(item)
                taken += 1
            if "LastEvaluatedKey" not in page or (limit > 0 and taken >= limit):
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _list(
        self, name: str, upto: str | None = None, newest_first: bool = False, limit: int = -1
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of a by_list partition in its order, up to a list_order bound."""
        condition, values = "list_key = :key", {":key": name}
        if upto is not None:
            condition, values = condition + " AND list_order <= :upto", values | {":upto": upto}
        return self._query(
            limit,
            IndexName=BY_LIST,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=_wire(values),
            ScanIndexForward=not newest_first,
        )

    def _partition(
        self, pk: str, sk: str = "", values: dict[str, Any] | None = None, limit: int = -1, forward: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of one partition of the table, by sort key, with a further condition on it."""
        return self._query(
            limit,
            KeyConditionExpression="pk = :pk" + (f" AND {sk}" if sk else ""),
            ExpressionAttributeValues=_wire({":pk": pk} | (values or {})),
            ConsistentRead=True,
            ScanIndexForward=forward,
        )

    # --- writing a change with its event -------------------------------------------------------------

    def _latest(self) -> int:
        head = self._get(HEAD)
        return int(head["latest"]) if head else 0

    def _commit(self, change: dict[str, Any], kind: str, request_id: str, state: str, *also: dict[str, Any]) -> bool:
        """Apply a change of a request (a transaction part conditioned on the state it leaves) with its event and
        any further parts; False if the change's own condition failed, which nothing retries."""
        seen = self.head.latest
        while True:
            if seen is None:
                seen = self._latest()
            event = {
                "pk": "events",
                "sk": f"{seen + 1:020d}",
                "seq": seen + 1,
                "kind": kind,
                "request_id": request_id,
                "state": state,
            }
            moved = _update(HEAD, {"latest": seen + 1}, "attribute_not_exists(latest) OR latest = :seen", seen=seen)
            try:
                self.dynamodb.transact_write_items(
                    TransactItems=[
                        change,
                        *also,
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": _wire(event),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {"Update": {"TableName": self.table, **moved}},
                    ]
                )
                self.head.latest = seen + 1
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or [{}]
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    return False
                seen = None  # another controller committed first: read the head again and retry

    def _move(self, request: ApprovalRequest, to: str, values: dict[str, Any], *also: dict[str, Any]) -> bool:
        """Move a request from the state it was read in to another, with its lists and its event."""
        order = {
            states.PENDING: f"{request.received_at}#{request.id}",
            states.DECIDING: f"{values.get('claimed_at')}#{request.id}",
        }.get(to, f"{values.get('decided_at') or request.checked_at}#{request.id}")
        pending = to == states.PENDING
        lists = {
            "list_key": to if to in (states.PENDING, states.DECIDING) else ENDED,
            "list_order": order,
            "check_key": states.PENDING if pending else None,
            "check_order": f"{request.checked_at}#{request.id}",
        }
        change = _update(
            _request_key(request.id), {"state": to, **values, **lists}, "#state = :from", **{"from": request.state}
        )
        change["ExpressionAttributeNames"]["#state"] = "state"
        return self._commit({"Update": {"TableName": self.table, **change}}, "changed", request.id, to, *also)

    # --- requests ------------------------------------------------------------------------------------

    def save_request(self, request: NewRequest, notify: bool = False) -> bool:
        stamp = now()
        item = {
            **_request_key(request.id),
            "id": request.id,
            "execution_arn": request.execution_arn,
            "task_token": request.task_token,
            "order_json": json.dumps(request.order),
            "requested_at": request.requested_at,
            "expires_at": request.expires_at,
            "received_at": stamp,
            "checked_at": stamp,
            "state": states.PENDING,
            "list_key": states.PENDING,
            "list_order": f"{stamp}#{request.id}",
            "check_key": states.PENDING,
            "check_order": f"{stamp}#{request.id}",
            "rule_json": None if request.rule is None else json.dumps(request.rule),
            "remind_at": request.remind_at,
            "escalate_at": request.escalate_at,
        }
        item = {name: value for name, value in item.items() if value is not None}
        put = {"Put": {"TableName": self.table, "Item": _wire(item), "ConditionExpression": "attribute_not_exists(pk)"}}
        notification = {
            "pk": "notifications",
            "sk": request.id,
            "attempts": 0,
            "next_attempt_at": stamp,
            "list_key": "notify",
            "list_order": f"{stamp}#{request.id}",
        }
        also = [{"Put": {"TableName": self.table, "Item": _wire(notification)}}] if notify else []
        return self._commit(put, "stored", request.id, states.PENDING, *also, *self._follow_up_markers(request))

    def get_request(self, request_id: str) -> ApprovalRequest | None:
        item = self._get(_request_key(request_id))
        return _request(item) if item else None

    def pending(self, limit: int = -1) -> list[ApprovalRequest]:
        return [_request(item) for item in self._list(states.PENDING, limit=limit) if item["state"] == states.PENDING]

    def count_pending(self) -> int:
        return sum(1 for _ in self._list(states.PENDING))

    def recent_ended(self, limit: int = 10) -> list[ApprovalRequest]:
        return [_request(item) for item in self._list(ENDED, newest_first=True, limit=limit)]

    def expire_overdue(self, request_id: str | None = None) -> None:
        stamp = now()
        if request_id is not None:
            found = self.get_request(request_id)
            overdue = [found] if found else []
        else:
            overdue = [_request(item) for item in self._list(states.PENDING)]
        for request in overdue:
            if request.state == states.PENDING and request.expires_at <= stamp:
                self._move(request, states.EXPIRED, {"closed_reason": TIMEOUT_PASSED})

    def stale(self, older_than_seconds: float, limit: int) -> list[ApprovalRequest]:
        items = self._query(
            limit,
            IndexName=BY_CHECK,
            KeyConditionExpression="check_key = :key AND check_order <= :upto",
            ExpressionAttributeValues=_wire({":key": states.PENDING, ":upto": _ago(older_than_seconds) + LAST}),
        )
        return [_request(item) for item in items]

    def touch(self, request_id: str) -> None:
        stamp = now()
        update = _update(
            _request_key(request_id),
            {"checked_at": stamp, "check_order": f"{stamp}#{request_id}"},
            "attribute_exists(pk)",
        )
        try:
            self.dynamodb.update_item(TableName=self.table, **update)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def claim(self, request_id: str, decision: Decision) -> ApprovalRequest | None:
        request = self.get_request(request_id)
        if request is None or request.state != states.PENDING:
            return None
        values = {
            "decision": decision.action,
            "approver": decision.approver,
            "comment": decision.comment,
            "reason": decision.reason,
            "claimed_at": now(),
        }
        if not self._move(request, states.DECIDING, values):
            return None
        return replace(request, state=states.DECIDING, decision=decision, claimed_at=values["claimed_at"])

    def stale_claims(self, older_than_seconds: float) -> list[ApprovalRequest]:
        return [_request(item) for item in self._list(states.DECIDING, upto=_ago(older_than_seconds) + LAST)]

    def release(self, request_id: str) -> None:
        request = self.get_request(request_id)
        if request is None or request.state != states.DECIDING:
            return
        forgotten = dict.fromkeys(("decision", "approver", "comment", "reason"))
        decision = request.decision
        if request.rule is not None and decision is not None and decision.action == "approve" and decision.approver:
            # the approval that claimed it goes too, so that its approver can send it again
            found = self._get(_request_key(request.id)) or {}
            forgotten["approval_count"] = max(int(found.get("approval_count", 1)) - 1, 0)
            key = _wire(_approval_key(request.id, decision.approver))
            self._move(request, states.PENDING, forgotten, {"Delete": {"TableName": self.table, "Key": key}})
        else:
            self._move(request, states.PENDING, forgotten)

    def add_approval(self, request_id: str, approval: Approval, required: int) -> ApprovalOutcome:
        item = {
            **_approval_key(request_id, approval.approver),
            "approver": approval.approver,
            "at": approval.at,
            "comment": approval.comment,
        }
        put = {"Put": {"TableName": self.table, "Item": _wire(item), "ConditionExpression": "attribute_not_exists(pk)"}}
        while True:
            found = self._get(_request_key(request_id))
            counted = int(found.get("approval_count", 0)) if found else 0
            if found is None or found["state"] != states.PENDING or counted >= required:
                return ApprovalOutcome("not pending")  # or about to be claimed by the approval that made the count
            # the count moves one at a time, so exactly one approval makes it reach `required`
            count = _update(
                _request_key(request_id),
                {"approval_count": counted + 1},
                "#state = :pending AND (attribute_not_exists(approval_count) OR approval_count = :seen)",
                pending=states.PENDING,
                seen=counted,
            )
            count["ExpressionAttributeNames"]["#state"] = "state"
            try:
                self.dynamodb.transact_write_items(TransactItems=[{"Update": {"TableName": self.table, **count}}, put])
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if reasons[1:2] == ["ConditionalCheckFailed"]:
                    return ApprovalOutcome("duplicate")
                continue  # the request moved or another approval counted first: read it again
            if counted + 1 < required:
                return ApprovalOutcome("recorded")
            claimed = self.claim(request_id, Decision("approve", approval.approver, approval.comment))
            return ApprovalOutcome("claimed", claimed) if claimed else ApprovalOutcome("not pending")

    def approvals(self, request_id: str) -> list[Approval]:
        items = self._partition(f"request#{request_id}", "begins_with(sk, :approval)", {":approval": "approval#"})
        found = [Approval(item["approver"], item["at"], item.get("comment")) for item in items]
        return sorted(found, key=lambda approval: (approval.at, approval.approver))

    def finish(self, request_id: str, state: str, closed_reason: str | None, from_state: str) -> bool:
        request = self.get_request(request_id)
        if request is None or request.state != from_state:
            return False
        decided_at = now() if state in states.DECIDED else None
        return self._move(request, state, {"decided_at": decided_at, "closed_reason": closed_reason})

    def keep_final_execution(self, request_id: str, execution: ExecutionStatus) -> None:
        kept = json.dumps({"status": execution.status, "error": execution.error, "cause": execution.cause})
        self.dynamodb.update_item(TableName=self.table, **_update(_request_key(request_id), {"final_execution": kept}))

    # --- the event log -------------------------------------------------------------------------------

    def events_after(self, seq: int, limit: int = 500) -> list[StoredEvent]:
        items = self._partition("events", "sk > :after", {":after": f"{seq:020d}"}, limit)
        return [StoredEvent(int(item["seq"]), item["kind"], item["request_id"], item["state"]) for item in items]

    def event_range(self) -> tuple[int, int]:
        ends = [next(self._partition("events", limit=1, forward=forward), None) for forward in (True, False)]
        first, last = (int(end["seq"]) if end else 0 for end in ends)
        return first, last

    def forget_events(self, keep: int) -> None:
        _, last = self.event_range()
        old = self._partition("events", "sk <= :upto", {":upto": f"{last - keep:020d}"})
        self._delete_all([{"pk": item["pk"], "sk": item["sk"]} for item in old])

    # --- notifications -------------------------------------------------------------------------------

    def due_notifications(self, limit: int) -> list[DueNotification]:
        due = []
        for item in self._list("notify", upto=now() + LAST, limit=limit):
            request = self.get_request(item.get("request_id", item["sk"]))
            if request is not None:
                due.append(DueNotification(request, int(item["attempts"]), item.get("kind", "new")))
        return due

    def _notification(self, request_id: str, kind: NotificationKind, values: dict[str, Any]) -> None:
        update = _update(_notification_key(request_id, kind), values, "attribute_exists(pk)")
        try:
            self.dynamodb.update_item(TableName=self.table, **update)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def notification_sent(self, request_id: str, kind: NotificationKind = "new") -> None:
        self._notification(request_id, kind, {"delivered_at": now(), "list_key": None, "list_order": None})

    def notification_failed(
        self, request_id: str, error: str, retry_in_seconds: float | None, kind: NotificationKind = "new"
    ) -> None:
        found = self._get(_notification_key(request_id, kind))
        attempts = int(found["attempts"]) + 1 if found else 1
        if retry_in_seconds is None:
            values = {
                "attempts": attempts,
                "last_error": error,
                "failed_at": now(),
                "list_key": None,
                "list_order": None,
            }
        else:
            later = _ago(-retry_in_seconds)
            values = {
                "attempts": attempts,
                "last_error": error,
                "next_attempt_at": later,
                "list_order": f"{later}#{request_id}",
            }
        self._notification(request_id, kind, values)

    def notification_counts(self) -> NotificationCounts:
        items = list(self._partition("notifications"))
        delivered = sum(1 for item in items if item.get("delivered_at"))
        failed = sum(1 for item in items if item.get("failed_at"))
        return NotificationCounts(delivered, failed, len(items) - delivered - failed)

    # --- reminders and escalations --------------------------------------------------------------------

    def _follow_up_markers(self, request: NewRequest) -> list[dict[str, Any]]:
        """Puts of the items that list a new request's reminder and escalation under `follow-ups` by due time."""
        markers = []
        times: dict[FollowUpKind, str | None] = {"reminder": request.remind_at, "escalation": request.escalate_at}
        for kind, due in times.items():
            if due is not None:
                item = {
                    **_follow_up_key(request.id, kind),
                    "request_id": request.id,
                    "kind": kind,
                    "list_key": "follow-ups",
                    "list_order": f"{due}#{request.id}#{kind}",
                }
                markers.append({"Put": {"TableName": self.table, "Item": _wire(item)}})
        return markers

    def due_follow_ups(self, limit: int) -> list[FollowUp]:
        return [
            FollowUp(item["request_id"], item["kind"]) for item in self._list("follow-ups", now() + LAST, limit=limit)
        ]

    def take_follow_up(self, request_id: str, kind: FollowUpKind, notify: bool) -> bool:
        due, taken = FOLLOW_UP_ATTRIBUTES[kind]
        stamp = now()
        marker = {"Delete": {"TableName": self.table, "Key": _wire(_follow_up_key(request_id, kind))}}
        request = self.get_request(request_id)
        if request is None or request.state in states.ENDED:
            self.dynamodb.delete_item(TableName=self.table, Key=marker["Delete"]["Key"])  # it will never be due
            return False
        if request.state != states.PENDING:
            return False  # being decided: due again if the decision falls through
        change = _update(
            _request_key(request_id),
            {taken: stamp},
            f"#state = :pending AND attribute_not_exists({taken}) AND {due} <= :now",
            pending=states.PENDING,
            now=stamp,
        )
        change["ExpressionAttributeNames"]["#state"] = "state"
        notification = {
            **_notification_key(request_id, kind),
            "request_id": request_id,
            "kind": kind,
            "attempts": 0,
            "next_attempt_at": stamp,
            "list_key": "notify",
            "list_order": f"{stamp}#{request_id}",
        }
        also = [marker] + ([{"Put": {"TableName": self.table, "Item": _wire(notification)}}] if notify else [])
        update = {"Update": {"TableName": self.table, **change}}
        if kind == "escalation":  # more people may decide from now: open pages show it
            return self._commit(update, "changed", request_id, states.PENDING, *also)
        return self._transact(update, *also) is None  # else taken elsewhere, not due, or the request moved on

    def withdraw_notification(self, request_id: str, kind: NotificationKind) -> None:
        self._conditional(
            lambda: self.dynamodb.delete_item(
                TableName=self.table,
                Key=_wire(_notification_key(request_id, kind)),
                ConditionExpression="attribute_not_exists(delivered_at)",
            )
        )

    # --- users, sessions and sign-in attempts ---------------------------------------------------------

    def _transact(self, *parts: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Commit the parts as one transaction, again if it only collided with another one in flight; None once
        it went through, else the cancellation reasons (one per part, in order) of a condition that failed."""
        while True:
            try:
                self.dynamodb.transact_write_items(TransactItems=list(parts))
                return None
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])
                codes = {reason.get("Code") for reason in reasons}
                if "ConditionalCheckFailed" in codes:
                    return reasons
                if not codes <= {"None", "TransactionConflict"}:
                    raise

    def _conditional(self, write: Callable[[], object]) -> bool:
        """Make a conditional write; False if its condition failed."""
        try:
            write()
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _delete_all(self, keys: list[dict[str, Any]]) -> None:
        """Delete these items, 25 (BatchWriteItem's most) at a time, until none is left unprocessed."""
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": _wire(key)}} for key in keys[start : start + 25]]
            while requests:
                answer = self.dynamodb.batch_write_item(RequestItems={self.table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self.table, [])

    def has_users(self) -> bool:
        state = self._get(SIGN_IN)
        return state is not None and int(state.get("user_count", 0)) > 0

    def had_users(self) -> bool:
        return self._get(SIGN_IN) is not None

    def reopen(self) -> bool:
        return self._conditional(
            lambda: self.dynamodb.delete_item(
                TableName=self.table,
                Key=_wire(SIGN_IN),
                ConditionExpression="attribute_not_exists(user_count) OR user_count = :none",
                ExpressionAttributeValues=_wire({":none": 0}),
            )
        )

    def users(self) -> list[User]:
        return sorted((_user(item) for item in self._partition("users")), key=lambda user: user.name)

    def user(self, name: str) -> User | None:
        item = self._get(_user_key(name))
        return _user(item) if item else None

    def _count_users(self, by: int) -> dict[str, Any]:
        """The transaction part that counts users in the sign-in state, which a user's arrival creates."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": _wire(SIGN_IN),
                "UpdateExpression": "ADD user_count :by SET users_since = if_not_exists(users_since, :now)",
                "ExpressionAttributeValues": _wire({":by": by, ":now": now()}),
            }
        }

    def add_user(self, name: str, role: str, password_hash: str, token_hash: str, groups: Sequence[str] = ()) -> bool:
        item = {
            **_user_key(name),
            "name": name,
            "role": role,
            "password_hash": password_hash,
            "token_hash": token_hash,
            "created_at": now(),
            "groups_json": json.dumps(sorted(set(groups))),
            "session_epoch": uuid.uuid4().hex,  # a session is valid while its user keeps the epoch it started in
        }
        put = {"Put": {"TableName": self.table, "Item": _wire(item), "ConditionExpression": "attribute_not_exists(pk)"}}
        return self._transact(put, self._count_users(1)) is None

    def _named(self, name: str) -> dict[str, Any]:
        """The condition that the user item under name's key is of exactly that name."""
        return {
            "ConditionExpression": "#name = :name",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": _wire({":name": name}),
        }

    def remove_user(self, name: str) -> bool:
        delete = {"Delete": {"TableName": self.table, "Key": _wire(_user_key(name)), **self._named(name)}}
        return self._transact(delete, self._count_users(-1)) is None  # its sessions lose their user with it

    def _change_user(self, name: str, values: dict[str, Any]) -> bool:
        update = _update(_user_key(name), values, "#name = :name", name=name)
        update["ExpressionAttributeNames"]["#name"] = "name"
        return self._conditional(lambda: self.dynamodb.update_item(TableName=self.table, **update))

    def set_groups(self, name: str, groups: Sequence[str]) -> bool:
        return self._change_user(name, {"groups_json": json.dumps(sorted(set(groups)))})

    def replace_token(self, name: str, token_hash: str) -> bool:
        return self._change_user(name, {"token_hash": token_hash, "session_epoch": uuid.uuid4().hex})

    def replace_password(self, name: str, password_hash: str) -> bool:
        return self._change_user(name, {"password_hash": password_hash, "session_epoch": uuid.uuid4().hex})

    def start_session(self, secret_hash: str, name: str, lifetime_seconds: float) -> None:
        user = self._get(_user_key(name))
        if user is None or user["name"] != name:
            return  # a session of no one could never be valid
        ends = _ago(-lifetime_seconds)
        item = {
            **_session_key(secret_hash),
            "name": name,
            "session_epoch": user["session_epoch"],
            "created_at": now(),
            "expires_at": ends,
            "expires_at_epoch": _epoch(ends),
            "list_key": "sessions",
            "list_order": f"{ends}#{secret_hash}",
        }
        self.dynamodb.put_item(TableName=self.table, Item=_wire(item))

    def session_user(self, secret_hash: str) -> User | None:
        session = self._get(_session_key(secret_hash))
        if session is None or session["expires_at"] <= now():
            return None
        user = self._get(_user_key(session["name"]))
        if user is None or (user["name"], user["session_epoch"]) != (session["name"], session["session_epoch"]):
            return None  # ended: its user was removed, or changed their token or password, or signed out
        return _user(user)

    def end_sessions(self, name: str) -> None:
        self._change_user(name, {"session_epoch": uuid.uuid4().hex})
        expired = self._list("sessions", upto=now() + LAST)  # everyone's, not left to TTL
        self._delete_all([{"pk": item["pk"], "sk": item["sk"]} for item in expired])

    def locked_until(self, keys: list[str]) -> str | None:
        stamp = now()
        ends = [found.get("locked_until") for key in keys if (found := self._get(_attempts_key(key)))]
        running = [end for end in ends if end and end > stamp]
        return max(running) if running else None

    def take_attempt(self, keys: list[str], max_attempts: int, lockout_seconds: float) -> str | None:
        # Each key's count moves only while it stays within max_attempts and the key is not locked, in one
        # transaction for all keys: parallel attempts on any controller are counted one by one, none slips past.
        while True:
            stamp = now()
            counts = [self._count_attempt(key, stamp, max_attempts) for key in keys]
            reasons = self._transact(*counts)
            if reasons is None:
                return None
            full = {
                key: _plain(reason.get("Item", {}))
                for key, reason in zip(keys, reasons, strict=True)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            running = [seen["locked_until"] for seen in full.values() if seen.get("locked_until", "") > stamp]
            if running:
                return str(max(running))
            # this is the attempt past the limit on the keys that are full: it locks them and counts on the others
            ends = _ago(-lockout_seconds)
            parts = [
                self._lock(key, full[key], stamp, ends) if key in full else c
                for key, c in zip(keys, counts, strict=True)
            ]
            if self._transact(*parts) is None:
                return ends
            # another attempt counted or locked first: take this one again from what the keys hold now

    def _count_attempt(self, key: str, stamp: str, max_attempts: int) -> dict[str, Any]:
        within = "failures < :most" if max_attempts <= 0 else "attribute_not_exists(failures) OR failures < :most"
        return {
            "Update": {
                "TableName": self.table,
                "Key": _wire(_attempts_key(key)),
                "UpdateExpression": "ADD failures :one SET last_failed_at = :now",
                "ConditionExpression": f"({UNLOCKED}) AND ({within})",
                "ExpressionAttributeValues": _wire({":one": 1, ":now": stamp, ":most": max_attempts}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _lock(self, key: str, seen: dict[str, Any], stamp: str, ends: str) -> dict[str, Any]:
        unchanged = "failures = :seen" if "failures" in seen else "attribute_not_exists(failures)"
        values = {":none": 0, ":ends": ends, ":now": stamp} | (
            {":seen": seen["failures"]} if "failures" in seen else {}
        )
        return {
            "Update": {
                "TableName": self.table,
                "Key": _wire(_attempts_key(key)),
                "UpdateExpression": "SET failures = :none, locked_until = :ends, last_failed_at = :now",
                "ConditionExpression": f"({UNLOCKED}) AND {unchanged}",
                "ExpressionAttributeValues": _wire(values),
            }
        }

    def forgive_attempt(self, name_key: str, address_key: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=_wire(_attempts_key(name_key)))
        self._conditional(
            lambda: self.dynamodb.update_item(
                TableName=self.table,
                Key=_wire(_attempts_key(address_key)),
                UpdateExpression="ADD failures :back",
                ConditionExpression="failures > :none",
                ExpressionAttributeValues=_wire({":back": -1, ":none": 0}),
            )
        )

    # --- the audit trail -----------------------------------------------------------------------------

    def record_attempt(self, attempt: AuditAttempt) -> None:
        numbered = self.dynamodb.update_item(
            TableName=self.table,
            Key=_wire({"pk": "counters", "sk": "audit"}),
            UpdateExpression="ADD latest :one",
            ExpressionAttributeValues=_wire({":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        number = int(_plain(numbered["Attributes"])["latest"])
        fields = {name: value for name, value in vars(attempt).items() if value is not None}
        item = {"pk": f"audit#{attempt.request_id or ''}", "sk": f"{number:020d}", "id": number, "at": now(), **fields}
        self.dynamodb.put_item(TableName=self.table, Item=_wire(item))

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        return [
            AuditEvent(
                int(item["id"]),
                item["at"],
                item.get("actor"),
                item.get("role"),
                item.get("address"),
                item["action"],
                item.get("request_id"),
                int(item["status"]),
                item["outcome"],
            )
            for item in self._partition(f"audit#{request_id}")
        ]

    # --- invalid messages ----------------------------------------------------------------------------

    def set_aside(self, message_id: str, reason: str, receive_count: int) -> None:
        stamp = now()
        self.dynamodb.update_item(
            TableName=self.table,
            Key=_wire({"pk": "invalid", "sk": message_id}),
            UpdateExpression="SET reason = :reason, receive_count = :count, last_seen = :now,"
            " first_seen = if_not_exists(first_seen, :now), list_key = :list, list_order = :order",
            ExpressionAttributeValues=_wire(
                {
                    ":reason": reason,
                    ":count": receive_count,
                    ":now": stamp,
                    ":list": "invalid",
                    ":order": f"{stamp}#{message_id}",
                }
            ),
        )

    def invalid_messages(self, limit: int) -> list[SetAsideMessage]:
        return [
            SetAsideMessage(
                item["sk"], item["reason"], int(item["receive_count"]), item["first_seen"], item["last_seen"]
            )
            for item in self._list("invalid", newest_first=True, limit=limit)
        ]

    # --- aggregates ----------------------------------------------------------------------------------

    def pending_summary(self) -> PendingSummary:
        waiting = self.pending()
        if not waiting:
            return PendingSummary(0, None, None)
        return PendingSummary(len(waiting), min(r.requested_at for r in waiting), min(r.expires_at for r in waiting))

    def ended_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(states.ENDED, 0)
        for item in self._list(ENDED):
            counts[item["state"]] += 1
        return counts

    def decision_times(self, bounds: tuple[float, ...]) -> DecisionTimes:
        took = [
            _seconds_between(item["received_at"], item["decided_at"])
            for item in self._list(ENDED)
            if item["state"] in states.DECIDED and item.get("decided_at")
        ]
        return DecisionTimes(
            bounds, tuple(sum(1 for t in took if t <= bound) for bound in bounds), len(took), float(sum(took))
        )

    def decision_quantiles(self, since: str, quantiles: tuple[float, ...]) -> tuple[float | None, ...]:
        took = [
            matching.seconds_to_decision(request)
            for request in self._all(ENDED)
            if request.state in states.DECIDED and request.decided_at and request.decided_at >= since
        ]
        return matching.quantiles(took, quantiles)

    def ended_per_day(self, since: str) -> list[DailyOutcomes]:
        return matching.per_day(self._all(ENDED), since)

    # --- finding requests: the table is keyed for the lists, so the filters run here ------------------

    def _all(self, name: str) -> Iterator[ApprovalRequest]:
        return (_request(item) for item in self._list(name))

    def _matching(self, query: RequestQuery) -> list[ApprovalRequest]:
        lists = ([states.PENDING] if states.PENDING in query.states else []) + (
            [ENDED] if set(query.states) & set(states.ENDED) else []
        )
        found = [request for name in lists for request in self._all(name)]
        return matching.ordered(found, query)

    def find_requests(self, query: RequestQuery, limit: int, offset: int = 0) -> list[ApprovalRequest]:
        return self._matching(query)[offset : offset + limit]

    def count_requests(self, query: RequestQuery) -> int:
        return len(self._matching(query))

    def iter_requests(self, query: RequestQuery) -> Iterator[ApprovalRequest]:
        yield from self._matching(query)  # sorted in memory: DynamoDB cannot order by an order's fields

    # --- leases on work ----------------------------------------------------------------------------

    def take_lease(self, work: str, owner: str, seconds: float) -> bool:
        ends = _ago(-seconds)
        item = {**_lease_key(work), "owner": owner, "expires_at": ends, "expires_at_epoch": _epoch(ends)}
        return self._conditional(
            lambda: self.dynamodb.put_item(
                TableName=self.table,
                Item=_wire(item),
                ConditionExpression="attribute_not_exists(pk) OR #owner = :owner OR expires_at <= :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=_wire({":owner": owner, ":now": now()}),
            )
        )

    def drop_lease(self, work: str, owner: str) -> None:
        self._conditional(
            lambda: self.dynamodb.delete_item(
                TableName=self.table,
                Key=_wire(_lease_key(work)),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=_wire({":owner": owner}),
            )
        )

    # --- whether the table takes writes ---------------------------------------------------------------

    def probe(self) -> None:
        try:
            self.dynamodb.put_item(TableName=self.table, Item=_wire({"pk": "health", "sk": "probe", "at": now()}))
        except (BotoCoreError, ClientError) as error:
            self.health.failure = f"the approvals table {self.table} takes no write: {error}"
            raise StoreUnavailable(self.health.failure) from error
        self.health.failure = None

    def check_writable(self) -> None:
        if self.health.failure is not None:
            self.probe()

    def failure(self) -> str | None:
        return self.health.failure


class DynamoDbBackend:
    """The approvals table: its layout is fixed by stack.json, so migrating only checks that it is there."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.health, self.head = Health(), Head()

    def migrate(self) -> int:
        self.dynamodb.describe_table(TableName=self.table)
        return SCHEMA_VERSION

    def open(self) -> DynamoDbStore:
        return DynamoDbStore(self.dynamodb, self.table, self.health, self.head)
