"""The audit trail and the queue messages set aside: records of what was tried or refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.storage import fields
from controller.storage.dynamodb.items import wire
from controller.storage.dynamodb.layout import audit_item
from controller.storage.dynamodb.table import Table
from controller.storage.records import AuditAttempt, AuditEvent, SetAsideMessage, audit_event_from, now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class Audit(Table):
    """Attempts to decide, numbered per table, and messages that are not approval requests."""

    def record_attempt(self, attempt: AuditAttempt) -> None:
        def numbered(number: int) -> list[TransactWriteItemTypeDef]:
            item = audit_item(AuditEvent(number, now(), **vars(attempt)))
            return [{"Put": {"TableName": self.table, "Item": wire(item)}}]

        self._numbered(self.heads.audit, numbered)

    def audit_trail(self, request_id: str) -> list[AuditEvent]:
        return [audit_event_from(item) for item in self._partition(f"audit#{request_id}")]

    def set_aside(self, message_id: str, reason: str, receive_count: int) -> None:
        stamp = now()
        self.dynamodb.update_item(
            TableName=self.table,
            Key=wire({"pk": "invalid", "sk": message_id}),
            UpdateExpression="SET reason = :reason, receive_count = :count, last_seen = :now,"
            " first_seen = if_not_exists(first_seen, :now), list_key = :list, list_order = :order",
            ExpressionAttributeValues=wire(
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
                fields.text(item, "sk"),
                fields.text(item, "reason"),
                fields.number(item, "receive_count"),
                fields.text(item, "first_seen"),
                fields.text(item, "last_seen"),
            )
            for item in self._list("invalid", newest_first=True, limit=limit)
        ]
