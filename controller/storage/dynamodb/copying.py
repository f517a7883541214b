"""Copying a whole store into the approvals table (docs/shared-store.md, "Upgrading from SQLite").

Every record becomes the item the store itself holds for a record in its state (layout.py), so a copied request
is listed, claimed, decided, reminded and notified like one stored here. The table is read before anything is
written: an item the copy would write that is there with other content, or an item of the controller's data
that the source does not have, refuses the copy whole. Each item is then put on the condition that there is
none, so a second run writes nothing and reports the same counts.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.core import states
from controller.core.config import ConfigurationError
from controller.storage import fields
from controller.storage.dynamodb.items import AUDIT_COUNTER, ENDED, HEAD, SIGN_IN, wire
from controller.storage.dynamodb.layout import (
    approval_item,
    audit_item,
    follow_up_item,
    notification_item,
    request_item,
    set_aside_item,
    sign_in_item,
    user_item,
)
from controller.storage.dynamodb.table import Table
from controller.storage.records import FollowUpKind, KeptRequest, StoreContents

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, KeysAndAttributesUnionTypeDef

    Found = dict[tuple[str, str], dict[str, AttributeValueTypeDef]]  # items by key, as DynamoDB sends them

# what a copy counts; it writes the sign-in state and users first, so that a table copied in part is never open to
# local mode, and the numbering of events and audit records before any record, so that no new one takes a copied number
KINDS = ("users", "requests", "approvals", "follow-ups", "notifications", "audit records", "set-aside messages")
MINTED = frozenset({"session_epoch"})  # made afresh for each user by the table, not carried from the source
SHOWN = 5  # conflicts named in a refusal


class CopyRefused(ConfigurationError):
    """The table holds data that is not this store's, or other content for the same records: nothing is copied."""


@dataclass(frozen=True)
class Planned:
    """One item the copy puts, with the kind it counts as and how a person would name it."""

    kind: str
    label: str
    item: dict[str, object]

    @property
    def key(self) -> tuple[str, str]:
        return fields.text(self.item, "pk"), fields.text(self.item, "sk")


@dataclass(frozen=True)
class CopyReport:
    """What the table holds from the source: records of each kind, and the requests by state; how many items this
    run put (none when an earlier run copied everything); the event number the table's log continues from."""

    counts: dict[str, int]
    requests_by_state: dict[str, int]
    written: int
    latest_event: int


def _follow_ups(kept: KeptRequest) -> Iterator[Planned]:
    """The reminder and escalation a request still waits for (none once it ended: it will never be due)."""
    if kept.request.state in states.ENDED:
        return
    times: tuple[tuple[FollowUpKind, str | None, str | None], ...] = (
        ("reminder", kept.remind_at, kept.reminded_at),
        ("escalation", kept.escalate_at, kept.escalated_at),
    )
    for kind, due, taken in times:
        if due is not None and taken is None:
            yield Planned(
                "follow-ups", f"the {kind} of request {kept.request.id}", follow_up_item(kept.request.id, kind, due)
            )


def plan(contents: StoreContents) -> list[Planned]:
    """Return the items that hold these contents on the table, in the order they are to be written."""
    counted = Counter(request_id for request_id, _ in contents.approvals)
    audit = contents.audit
    planned = []
    if contents.users_since is not None:
        planned.append(Planned("sign-in", "the sign-in state", sign_in_item(len(contents.users), contents.users_since)))
    planned += [Planned("users", f"user {user.name}", user_item(user, uuid.uuid4().hex)) for user in contents.users]
    planned.append(Planned("numbering", "the event numbering", {**HEAD, "latest": contents.latest_event}))
    if audit:
        planned.append(
            Planned("numbering", "the audit numbering", {**AUDIT_COUNTER, "latest": max(e.id for e in audit)})
        )
    planned += [
        Planned("requests", f"request {kept.request.id}", request_item(kept, counted[kept.request.id]))
        for kept in contents.requests
    ]
    planned += [
        Planned(
            "approvals", f"{approval.approver}'s approval of request {request_id}", approval_item(request_id, approval)
        )
        for request_id, approval in contents.approvals
    ]
    planned += [follow_up for kept in contents.requests for follow_up in _follow_ups(kept)]
    planned += [
        Planned("notifications", f"the {n.kind} notification of request {n.request_id}", notification_item(n))
        for n in contents.notifications
    ]
    planned += [Planned("audit records", f"audit record {event.id}", audit_item(event)) for event in audit]
    planned += [
        Planned("set-aside messages", f"set-aside message {message.message_id}", set_aside_item(message))
        for message in contents.set_aside
    ]
    return planned


def _differing(planned: Planned, found: dict[str, AttributeValueTypeDef]) -> list[str]:
    """The attributes in which an item found on the table differs from the one the copy would put."""
    wanted = wire(planned.item)
    return sorted(name for name in (wanted.keys() | found.keys()) - MINTED if wanted.get(name) != found.get(name))


def _refusal(table: str, problems: list[str]) -> CopyRefused:
    more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return CopyRefused(
        f"The table {table} holds data that is not this database's: {'; '.join(problems[:SHOWN])}{more}. Nothing was"
        " written: copy into a new table. (If an earlier copy filled this table and controllers have served it since,"
        " that copy is complete and there is nothing to do.)"
    )


class Copy(Table):
    """One copy of a store's contents into the table: read all first, then put what is missing."""

    def _found(self, keys: list[tuple[str, str]]) -> Found:
        """The items at these keys (as DynamoDB sends them), read consistently, 100 (BatchGetItem's most) at once."""
        found: Found = {}
        for start in range(0, len(keys), 100):
            asked: Mapping[str, KeysAndAttributesUnionTypeDef] = {
                self.table: {
                    "Keys": [wire({"pk": pk, "sk": sk}) for pk, sk in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while asked:
                answer = self.dynamodb.batch_get_item(RequestItems=asked)
                for item in answer["Responses"].get(self.table, []):
                    found[item["pk"]["S"], item["sk"]["S"]] = item
                asked = answer.get("UnprocessedKeys") or {}
        return found

    def _foreign(self, planned: set[tuple[str, str]], found: Found) -> Iterator[str]:
        """Name each item of the controller's data on the table that the copy would not put."""
        for name in (states.PENDING, states.DECIDING, ENDED):
            for item in self._list(name):
                if (item["pk"], item["sk"]) not in planned:
                    yield f"request {item['id']} is not in the database"
        for partition, what in (
            ("users", "user"),
            ("notifications", "notification"),
            ("follow-ups", "follow-up"),
            ("invalid", "set-aside message"),
        ):
            for item in self._partition(partition):
                if (item["pk"], item["sk"]) not in planned:
                    yield f"{what} {item.get('name', item['sk'])} is not in the database"
        for key, what in ((SIGN_IN, "the sign-in state"), (HEAD, "the event log"), (AUDIT_COUNTER, "the audit trail")):
            if (key["pk"], key["sk"]) in found and (key["pk"], key["sk"]) not in planned:
                yield f"{what} is not the database's"

    def check(self, planned: list[Planned]) -> Found:
        """Return the planned items already on the table; CopyRefused, before any write, if the table holds data
        that is not the source's, or other content at one of the planned keys."""
        keys = [entry.key for entry in planned]
        clashes = [key for key, times in Counter(keys).items() if times > 1]
        if clashes:
            named = [entry.label for entry in planned if entry.key in clashes]
            raise CopyRefused(
                f"{' and '.join(named[:2])} would be one item on the table (user names differing only in case or form"
                " are one name there): remove or rename one (`users remove`) and copy again. Nothing was written."
            )
        singletons = [(key["pk"], key["sk"]) for key in (SIGN_IN, HEAD, AUDIT_COUNTER)]
        found = self._found(list(dict.fromkeys(keys + singletons)))
        problems = list(self._foreign(set(keys), found))
        for entry in planned:
            if entry.key in found:
                differing = _differing(entry, found[entry.key])
                if differing:
                    problems.append(f"{entry.label} differs ({', '.join(differing)})")
        if problems:
            raise _refusal(self.table, problems)
        wanted = set(keys)
        return {key: item for key, item in found.items() if key in wanted}

    def _put(self, entry: Planned) -> bool:
        """Put the item where there is none; False if one is there already."""
        item = wire(entry.item)
        return self._conditional(
            lambda: self.dynamodb.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        )

    def put_missing(self, planned: list[Planned], there: Found) -> int:
        """Put each planned item that is not there yet, only where there is none; return how many were put."""
        written = 0
        for entry in planned:
            if entry.key in there:
                continue
            if self._put(entry):
                written += 1
                continue
            now_there = self._found([entry.key]).get(entry.key)
            if now_there is None or _differing(entry, now_there):
                raise CopyRefused(
                    f"{entry.label} was written on the table by someone else during the copy, which stopped after"
                    f" {written} items: stop every controller on the table, then copy again."
                )
        return written


def copy_contents(dynamodb: DynamoDBClient, table: str, contents: StoreContents) -> CopyReport:
    """Copy a store's contents into the table; CopyRefused, with nothing written, if it holds other data."""
    planned = plan(contents)
    copy = Copy(dynamodb, table)
    written = copy.put_missing(planned, copy.check(planned))
    counted = Counter(entry.kind for entry in planned)
    by_state = Counter(kept.request.state for kept in contents.requests)
    return CopyReport(
        {kind: counted[kind] for kind in KINDS},
        {state: by_state[state] for state in states.ALL if by_state[state]},
        written,
        contents.latest_event,
    )
