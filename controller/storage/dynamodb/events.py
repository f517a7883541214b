"""The numbered log of changes: each change of a request commits with its event and the head moved on by one,
so /events numbers are dense and in commit order on every controller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from controller.storage import fields
from controller.storage.dynamodb.items import key_of, request_key, update_of, wire
from controller.storage.dynamodb.layout import request_lists
from controller.storage.dynamodb.table import Table
from controller.storage.records import CHANGES, ApprovalRequest, Change, StoredEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class Events(Table):
    """The event log, and the request changes that commit with their event."""

    def _commit(
        self,
        change: TransactWriteItemTypeDef,
        kind: Change,
        request_id: str,
        state: str,
        *also: TransactWriteItemTypeDef,
    ) -> bool:
        """Apply a change of a request (a transaction part conditioned on the state it leaves) with its event and
        any further parts; False if the change's own condition failed, which nothing retries."""

        def numbered(seq: int) -> list[TransactWriteItemTypeDef]:
            event = {"pk": "events", "sk": f"{seq:020d}", "seq": seq, "kind": kind, "request_id": request_id}
            item = wire({**event, "state": state})
            return [
                change,
                *also,
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            ]

        return self._numbered(self.heads.events, numbered)

    def _move(
        self, request: ApprovalRequest, to: str, values: Mapping[str, object], *also: TransactWriteItemTypeDef
    ) -> bool:
        """Move a request from the state it was read in to another, with its lists and its event."""
        claimed_at, decided_at = fields.optional_text(values, "claimed_at"), fields.optional_text(values, "decided_at")
        lists = request_lists(request.id, to, request.received_at, request.checked_at, claimed_at, decided_at)
        change = update_of(
            self.table,
            request_key(request.id),
            {"state": to, **values, **lists},
            "#state = :from",
            {"#state": "state"},
            **{"from": request.state},
        )
        return self._commit({"Update": change}, "changed", request.id, to, *also)

    def events_after(self, seq: int, limit: int = 500) -> list[StoredEvent]:
        items = self._partition("events", "sk > :after", {":after": f"{seq:020d}"}, limit)
        return [
            StoredEvent(
                fields.number(item, "seq"),
                fields.one_of(item, "kind", CHANGES),
                fields.text(item, "request_id"),
                fields.text(item, "state"),
            )
            for item in items
        ]

    def event_range(self) -> tuple[int, int]:
        ends = [next(self._partition("events", limit=1, forward=forward), None) for forward in (True, False)]
        first, last = (fields.number(end, "seq") if end else 0 for end in ends)
        return first, last

    def forget_events(self, keep: int) -> None:
        _, last = self.event_range()
        old = self._partition("events", "sk <= :upto", {":upto": f"{last - keep:020d}"})
        self._delete_all([key_of(item) for item in old])
