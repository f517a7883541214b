"""The items of the approvals table (docs/shared-store.md): their keys, their indexes, and DynamoDB's wire
format of their attributes. Items become records through storage/records.py, as SQLite rows do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from controller.core import text
from controller.storage import fields
from controller.storage.records import FollowUpKind, NotificationKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateTypeDef

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


def wire(values: Mapping[str, object]) -> dict[str, AttributeValueTypeDef]:
    """The values in DynamoDB's format (the serializer refuses a type it has none for)."""
    return {key: _serializer.serialize(value) for key, value in values.items()}


def plain(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, object]:
    """An item's attributes as Python values, to be read through controller.storage.fields."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def key_of(item: fields.Fields) -> dict[str, str]:
    return {"pk": fields.text(item, "pk"), "sk": fields.text(item, "sk")}


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
    table: str,
    key: Mapping[str, str],
    values: Mapping[str, object],
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    **condition_values: object,
) -> UpdateTypeDef:
    """An Update of these attributes (None removes one), under a condition whose :placeholders are given and
    whose #names, beyond the attributes', are named."""
    attributes = {f"#{index}": name for index, name in enumerate(values)}
    sets = [f"#{index} = :{index}" for index, value in enumerate(values.values()) if value is not None]
    removes = [f"#{index}" for index, value in enumerate(values.values()) if value is None]
    expression = " ".join(
        part for part in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes)) if part
    )
    placeholders = {f":{index}": value for index, value in enumerate(values.values()) if value is not None}
    update: UpdateTypeDef = {
        "TableName": table,
        "Key": wire(key),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": attributes | dict(names or {}),
    }
    placeholders |= {f":{name}": value for name, value in condition_values.items()}
    if placeholders:
        update["ExpressionAttributeValues"] = wire(placeholders)
    if condition:
        update["ConditionExpression"] = condition
    return update
