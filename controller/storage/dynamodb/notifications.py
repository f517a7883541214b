"""Webhook notifications of new requests on the table: due, delivered, retried or given up on."""

from __future__ import annotations

from typing import Any

from controller.storage.clock import ago, now
from controller.storage.dynamodb.items import LAST, request_key, update_of
from controller.storage.dynamodb.table import Table
from controller.storage.records import DueNotification, NotificationCounts, request_from


class Notifications(Table):
    """The notifications, one item each, listed in by_list while they wait."""

    def due_notifications(self, limit: int) -> list[DueNotification]:
        due = []
        for item in self._list("notify", upto=now() + LAST, limit=limit):
            request = self._get(request_key(item["sk"]))
            if request is not None:
                due.append(DueNotification(request_from(request), int(item["attempts"])))
        return due

    def _notification(self, request_id: str, values: dict[str, Any]) -> None:
        update = update_of({"pk": "notifications", "sk": request_id}, values, "attribute_exists(pk)")
        self._conditional(lambda: self.dynamodb.update_item(TableName=self.table, **update))

    def notification_sent(self, request_id: str) -> None:
        self._notification(request_id, {"delivered_at": now(), "list_key": None, "list_order": None})

    def notification_failed(self, request_id: str, error: str, retry_in_seconds: float | None) -> None:
        found = self._get({"pk": "notifications", "sk": request_id})
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
            later = ago(-retry_in_seconds)
            values = {
                "attempts": attempts,
                "last_error": error,
                "next_attempt_at": later,
                "list_order": f"{later}#{request_id}",
            }
        self._notification(request_id, values)

    def notification_counts(self) -> NotificationCounts:
        items = list(self._partition("notifications"))
        delivered = sum(1 for item in items if item.get("delivered_at"))
        failed = sum(1 for item in items if item.get("failed_at"))
        return NotificationCounts(delivered, failed, len(items) - delivered - failed)
