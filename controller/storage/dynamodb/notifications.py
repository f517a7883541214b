"""Webhook notifications of new requests and their follow-ups on the table: due, delivered, retried or given up on."""

from __future__ import annotations

from collections.abc import Mapping

from controller.core import states
from controller.storage import fields
from controller.storage.dynamodb.items import LAST, notification_key, request_key, update_of, wire
from controller.storage.dynamodb.table import Table
from controller.storage.records import (
    NOTIFICATION_KINDS,
    DueNotification,
    NotificationCounts,
    NotificationKind,
    now,
    request_from,
)


class Notifications(Table):
    """The notifications, one item each, listed in by_list while they wait."""

    def due_notifications(self, limit: int) -> list[DueNotification]:
        due: list[DueNotification] = []
        for item in self._list("notify", upto=now() + LAST):
            if len(due) == limit:
                break
            request = self._get(request_key(fields.optional_text(item, "request_id") or fields.text(item, "sk")))
            kind = fields.one_of(item, "kind", NOTIFICATION_KINDS, "new")
            # a follow-up of a request being decided waits for the decision, without crowding out the others
            if request is not None and (kind == "new" or request["state"] != states.DECIDING):
                due.append(DueNotification(request_from(request), fields.number(item, "attempts"), kind))
        return due

    def _notification(self, request_id: str, kind: NotificationKind, values: Mapping[str, object]) -> None:
        update = update_of(self.table, notification_key(request_id, kind), values, "attribute_exists(pk)")
        self._conditional(lambda: self.dynamodb.update_item(**update))

    def notification_sent(self, request_id: str, kind: NotificationKind = "new") -> None:
        self._notification(request_id, kind, {"delivered_at": now(), "list_key": None, "list_order": None})

    def notification_failed(
        self, request_id: str, error: str, retry_in_seconds: float | None, kind: NotificationKind = "new"
    ) -> None:
        found = self._get(notification_key(request_id, kind))
        attempts = fields.number(found, "attempts") + 1 if found else 1
        if retry_in_seconds is None:
            values = {
                "attempts": attempts,
                "last_error": error,
                "failed_at": now(),
                "list_key": None,
                "list_order": None,
            }
        else:
            later = now(retry_in_seconds)
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

    def claim_notification(self, request_id: str, kind: NotificationKind, seconds: float) -> bool:
        stamp, later = now(), now(seconds)
        update = update_of(
            self.table,
            notification_key(request_id, kind),
            {"next_attempt_at": later, "list_order": f"{later}#{request_id}"},
            "attribute_exists(pk) AND attribute_not_exists(delivered_at) AND attribute_not_exists(failed_at)"
            " AND next_attempt_at <= :now",
            now=stamp,
        )
        return self._conditional(lambda: self.dynamodb.update_item(**update))

    def withdraw_notification(self, request_id: str, kind: NotificationKind) -> None:
        self._conditional(
            lambda: self.dynamodb.delete_item(
                TableName=self.table,
                Key=wire(notification_key(request_id, kind)),
                ConditionExpression="attribute_not_exists(delivered_at)",
            )
        )
