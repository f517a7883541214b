"""Reading the approvals table page by page, and writing it on conditions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from botocore.exceptions import ClientError

from controller.storage.dynamodb.items import BY_LIST, plain, wire
from controller.storage.records import Health

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestUnionTypeDef,
    )
    from typing_extensions import Unpack


class Query(TypedDict, total=False):
    """What a Query of the table names besides the table: its index, key condition, order and page."""

    IndexName: str
    KeyConditionExpression: str
    ExpressionAttributeValues: Mapping[str, AttributeValueTypeDef]
    ConsistentRead: bool
    ScanIndexForward: bool
    Limit: int
    ExclusiveStartKey: Mapping[str, AttributeValueTypeDef]


class CancellationReason(TypedDict, total=False):
    """Why a cancelled transaction did not take one of its parts, as TransactionCanceledException says."""

    Code: str
    Message: str
    Item: dict[str, AttributeValueTypeDef]  # the item as it was, for a part that asked for it


class Head:
    """The latest event number this process saw committed, shared by every store of one backend: a change is
    first tried against it, and the head is read from the table only when another controller moved it."""

    latest: int | None = None


class Table:
    """One approvals table, through a boto3 client that may be shared between threads: the reads and the
    conditional writes every part of the store is made of."""

    def __init__(
        self, dynamodb: DynamoDBClient, table: str, health: Health | None = None, head: Head | None = None
    ) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.health, self.head = health or Health(), head or Head()

    def _get(self, key: Mapping[str, str]) -> dict[str, object] | None:
        found = self.dynamodb.get_item(TableName=self.table, Key=wire(key), ConsistentRead=True).get("Item")
        return plain(found) if found else None

    def _query(self, limit: int = -1, **query: Unpack[Query]) -> Iterator[dict[str, object]]:
        """Yield the items of a query, page after page past DynamoDB's 1 MB, at most limit (-1: all)."""
        if limit == 0:
            return
        taken = 0
        while True:
            if limit > 0:
                query["Limit"] = limit - taken
            page = self.dynamodb.query(TableName=self.table, **query)
            for item in page.get("Items", []):
                yield plain(item)
                taken += 1
            if "LastEvaluatedKey" not in page or (limit > 0 and taken >= limit):
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _list(
        self, name: str, upto: str | None = None, newest_first: bool = False, limit: int = -1
    ) -> Iterator[dict[str, object]]:
        """Yield the items of a by_list partition in its order, up to a list_order bound."""
        condition, values = "list_key = :key", {":key": name}
        if upto is not None:
            condition, values = condition + " AND list_order <= :upto", values | {":upto": upto}
        return self._query(
            limit,
            IndexName=BY_LIST,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=wire(values),
            ScanIndexForward=not newest_first,
        )

    def _partition(
        self, pk: str, sk: str = "", values: Mapping[str, object] | None = None, limit: int = -1, forward: bool = True
    ) -> Iterator[dict[str, object]]:
        """Yield the items of one partition of the table, by sort key, with a further condition on it."""
        return self._query(
            limit,
            KeyConditionExpression="pk = :pk" + (f" AND {sk}" if sk else ""),
            ExpressionAttributeValues=wire({":pk": pk, **(values or {})}),
            ConsistentRead=True,
            ScanIndexForward=forward,
        )

    def _transact(self, *parts: TransactWriteItemTypeDef) -> list[CancellationReason] | None:
        """Commit the parts as one transaction, again if it only collided with another one in flight; None once
        it went through, else the cancellation reasons (one per part, in order) of a condition that failed."""
        while True:
            try:
                self.dynamodb.transact_write_items(TransactItems=list(parts))
                return None
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons: list[CancellationReason] = error.response.get("CancellationReasons", [])
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

    def _delete_all(self, keys: Sequence[Mapping[str, str]]) -> None:
        """Delete these items, 25 (BatchWriteItem's most) at a time, until none is left unprocessed."""
        for start in range(0, len(keys), 25):
            requests: Sequence[WriteRequestUnionTypeDef] = [
                {"DeleteRequest": {"Key": wire(key)}} for key in keys[start : start + 25]
            ]
            while requests:
                answer = self.dynamodb.batch_write_item(RequestItems={self.table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self.table, [])
