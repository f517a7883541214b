"""The items of the approvals table (docs/shared-store.md): their keys, their indexes, and DynamoDB's wire
format of their attributes. Items become records through storage/records.py, as SQLite rows do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from controller.core import text
from controller.storage.records import FollowUpKind, NotificationKind

BY_LIST, BY_CHECK = "by_list", "by_check"  # the indexes of stack.json's approvals_table
LAST = "#\uffff"  # appended to a time, sorts after every "<time>#<id>" of that time
HEAD = {"pk": "events-head", "sk": "head"}
AUDIT_COUNTER = {"pk": "counters", "sk": "audit"}  # the latest audit record's number
SIGN_IN = {"pk": "sign-in", "sk": "state"}  # counts the users; there once one was added, until reopened
UNLOCKED = "attribute_not_exists(locked_until) OR locked_until <= :now"  # of a name's or an address's attempts
ENDED = "ended"  # the by_list partition of requests that ended, whatever their state
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()
# the attributes of a request that say when each follow-up is due and when it was taken
FOLLOW_UP_ATTRIBUTES: dict[FollowUpKind, tuple[str, str]] = {
    "reminder": ("remind_at", "reminded_at"),
    "escalation": ("escalate_at", "escalated_at"),
}


def wire(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def request_key(request_id: str) -> dict[str, str]:
    return {"pk": f"request#{request_id}", "sk": "request"}


def approval_key(request_id: str, approver: str) -> dict[str, str]:
    return {"pk": f"request#{request_id}", "sk": f"approval#{approver}"}


def notification_key(request_id: str, kind: NotificationKind) -> dict[str, str]:
    # a new request's notification keeps the key it had before follow-ups existed
    return {"pk": "notifications", "sk": request_id if kind == "new" else f"{request_id}#{kind}"}


def follow_up_key(request_id: str, kind: FollowUpKind) -> dict[str, str]:
    return {"pk": "follow-ups", "sk": f"{request_id}#{kind}"}


def user_key(name: str) -> dict[str, str]:
    return {"pk": "users", "sk": text.name_key(name)}  # one item per name, whatever its case or form


def session_key(secret_hash: str) -> dict[str, str]:
    return {"pk": f"session#{secret_hash}", "sk": "session"}


def attempts_key(key: str) -> dict[str, str]:
    return {"pk": f"failures#{key}", "sk": "failures"}


def lease_key(work: str) -> dict[str, str]:
    return {"pk": f"lease#{work}", "sk": "lease"}


def epoch(timestamp: str) -> int:
    """Return the whole second after a timestamp, for the table's TTL (which only tidies: reads check times)."""
    return int(datetime.fromisoformat(timestamp).timestamp()) + 1


def update_of(
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
    update: dict[str, Any] = {"Key": wire(key), "UpdateExpression": expression, "ExpressionAttributeNames": names}
    placeholders |= {f":{name}": value for name, value in condition_values.items()}
    if placeholders:
        update["ExpressionAttributeValues"] = wire(placeholders)
    if condition:
        update["ConditionExpression"] = condition
    return update
