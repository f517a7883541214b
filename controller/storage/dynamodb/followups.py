"""Reminders and escalations of requests still waiting: listed by due time, each taken once by one controller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.core import states
from controller.storage import fields
from controller.storage.dynamodb.items import (
    FOLLOW_UP_ATTRIBUTES,
    LAST,
    follow_up_key,
    request_key,
    update_of,
    wire,
)
from controller.storage.dynamodb.layout import notification_item
from controller.storage.dynamodb.requests import Requests
from controller.storage.records import FOLLOW_UP_KINDS, FollowUp, FollowUpKind, KeptNotification, now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class FollowUps(Requests):
    """The follow-ups due, and taking one: its time marked on the request, its notification queued, at once."""

    def due_follow_ups(self, limit: int) -> list[FollowUp]:
        due: list[FollowUp] = []
        for item in self._list("follow-ups", now() + LAST):
            if len(due) == limit:
                break
            request_id = fields.text(item, "request_id")
            request = self._get(request_key(request_id))
            if request is None or request["state"] != states.DECIDING:  # those being decided must not crowd out
                due.append(FollowUp(request_id, fields.one_of(item, "kind", FOLLOW_UP_KINDS)))
        return due

    def take_follow_up(self, request_id: str, kind: FollowUpKind, notify: bool) -> bool:
        due, taken = FOLLOW_UP_ATTRIBUTES[kind]
        stamp = now()
        marker_key = wire(follow_up_key(request_id, kind))
        request = self.get_request(request_id)
        if request is None or request.state in states.ENDED:
            self.dynamodb.delete_item(TableName=self.table, Key=marker_key)  # it will never be due
            return False
        if request.state != states.PENDING:
            return False  # being decided: due again if the decision falls through
        change = update_of(
            self.table,
            request_key(request_id),
            {taken: stamp},
            f"#state = :pending AND attribute_not_exists({taken}) AND {due} <= :now",
            {"#state": "state"},
            pending=states.PENDING,
            now=stamp,
        )
        notification = notification_item(KeptNotification(request_id, kind, 0, stamp))
        also: list[TransactWriteItemTypeDef] = [{"Delete": {"TableName": self.table, "Key": marker_key}}]
        if notify:
            also.append({"Put": {"TableName": self.table, "Item": wire(notification)}})
        update: TransactWriteItemTypeDef = {"Update": change}
        if kind == "escalation":  # more people may decide from now: open pages show it
            return self._commit(update, "changed", request_id, states.PENDING, *also)
        return self._transact(update, *also) is None  # else taken elsewhere, not due, or the request moved on
