"""Leases on work (docs/shared-store.md, "Work claimed per item"): one conditional PutItem takes or extends
one, and when refused returns the holder's item, one conditional DeleteItem gives it back."""

from __future__ import annotations

from botocore.exceptions import ClientError

from controller.storage import fields
from controller.storage.dynamodb.items import epoch, lease_key, plain, wire
from controller.storage.dynamodb.table import Table
from controller.storage.records import Lease, now


class Leases(Table):
    """Leases on pieces of work, one owner at a time."""

    def take_lease(self, work: str, owner: str, seconds: float) -> Lease:
        ends = now(seconds)
        item = {**lease_key(work), "owner": owner, "expires_at": ends, "expires_at_epoch": epoch(ends)}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=wire(item),
                ConditionExpression="attribute_not_exists(pk) OR #owner = :owner OR expires_at <= :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=wire({":owner": owner, ":now": now()}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",  # whose it is and until when, at no extra request
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            holder = plain(error.response["Item"])
            return Lease(fields.text(holder, "owner"), fields.text(holder, "expires_at"))
        return Lease(owner, ends)

    def drop_lease(self, work: str, owner: str) -> None:
        self._conditional(
            lambda: self.dynamodb.delete_item(
                TableName=self.table,
                Key=wire(lease_key(work)),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=wire({":owner": owner}),
            )
        )
