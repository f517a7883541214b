"""Reading the approvals table page by page, and writing it on conditions."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from botocore.exceptions import ClientError

from controller.storage import fields
from controller.storage.dynamodb.failures import busy, refused, unavailable
from controller.storage.dynamodb.items import AUDIT_COUNTER, BY_LIST, HEAD, plain, update_of, wire
from controller.storage.dynamodb.seen import SeenRequests
from controller.storage.records import Health

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestUnionTypeDef,
    )
    from typing_extensions import Unpack


# the cancellation reasons a transaction may be tried again after (a failed condition: for parts whose
# condition guards against another controller's change, such as the events head), and those of throttling
RETRYABLE = frozenset({"None", "TransactionConflict", "ConditionalCheckFailed"})
THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
MAX_TRIES = 25
MAX_FRESH_TRIES = 200  # retries of a numbering at once, after another controller's number came back
MAX_PAUSE_SECONDS = 0.2


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
    """One numbering item of the table as this process last saw it commit, shared by every store of one
    backend: the next number is first tried against `latest`, and a transaction cancelled because another
    controller moved the item on brings the item back with it. This process's writers take turns under the
    lock, so they never cancel one another; only other controllers' writes collide."""

    def __init__(self, key: Mapping[str, str]) -> None:
        self.key, self.latest, self.lock = key, 0, threading.Lock()


@dataclass(frozen=True)
class Heads:
    """The table's numberings: the event log's (every change of a request) and the audit trail's."""

    events: Head = field(default_factory=lambda: Head(HEAD))
    audit: Head = field(default_factory=lambda: Head(AUDIT_COUNTER))


class Table:
    """One approvals table, through a boto3 client that may be shared between threads: the reads and the
    conditional writes every part of the store is made of."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        health: Health | None = None,
        heads: Heads | None = None,
        seen: SeenRequests | None = None,
    ) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.health, self.heads, self.seen = health or Health(), heads or Heads(), seen or SeenRequests()

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
        tries = 0
        while True:
            try:
                self.dynamodb.transact_write_items(TransactItems=list(parts))
                return None
            except ClientError as error:
                if "ConditionalCheckFailed" in self._cancellation(error):
                    reasons: list[CancellationReason] = error.response.get("CancellationReasons", [])
                    return reasons
                tries = self._pause(tries)

    def _numbered(self, head: Head, parts: Callable[[int], Sequence[TransactWriteItemTypeDef]]) -> bool:
        """Commit the parts made for the next number of a numbering with the item moved on to it; False if the
        first part's own condition failed (that change no longer applies), which nothing retries.

        The first try of a process takes the number after 0: the item, if it is further, comes back with the
        cancellation, as it does whenever another controller numbered in between."""
        self._refuse_while_failing()  # before the lock: a trial hanging under it would hold every writer up
        with head.lock:
            self._refuse_while_failing()
            tries = fresh = 0
            while True:
                moved = update_of(
                    self.table,
                    head.key,
                    {"latest": head.latest + 1},
                    "attribute_not_exists(latest) OR latest = :seen",
                    seen=head.latest,
                )
                moved["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
                reasons = self._transact(*parts(head.latest + 1), {"Update": moved})
                if reasons is None:
                    head.latest += 1
                    return True
                moved_on = reasons[-1].get("Item")  # the item as another controller left it, if it moved on
                if moved_on:
                    head.latest = fields.number(plain(moved_on), "latest")
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    return False
                if moved_on and fresh < MAX_FRESH_TRIES:
                    # another controller numbered in between and the item says where it is now: each such
                    # collision is someone's progress, and pausing here would hold this process's writers up too
                    fresh += 1
                    continue
                if not moved_on:  # a part after the first failed, the item did not say why: read it
                    head.latest = fields.number(self._get(head.key) or {}, "latest", 0)
                tries = self._pause(tries)

    def _refuse_while_failing(self) -> None:
        """StoreUnavailable, unsent, while a failure of the table is noted: a numbering's calls are never the one
        that tries the table again, since the writers waiting on its lock would wait out that call's hang too."""
        if self.health.failure is not None:
            raise refused(self.table, self.health.failure)

    def _cancellation(self, error: ClientError) -> list[str]:
        """Return the codes of a cancelled transaction's parts, in order, when another try may go through.

        Raise the error itself when it is no cancellation or one no retry mends (a validation error, an item
        too large), and StoreUnavailable when DynamoDB throttled it: trying again at once only adds load."""
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise error
        reasons: list[CancellationReason] = error.response.get("CancellationReasons", [])
        codes = [reason.get("Code", "None") for reason in reasons]
        if THROTTLED.intersection(codes):
            raise busy(self.table, f"throttled ({', '.join(codes)})") from error
        if not RETRYABLE.issuperset(codes):
            raise error
        return codes

    def _pause(self, tries: int) -> int:
        """Wait a moment, longer each try, before a cancelled transaction is tried again; return the tries made.
        StoreUnavailable once it collided too often: the table is too busy with changes of the same items."""
        if tries >= MAX_TRIES:
            reason = f"a change collided with others {tries} times in a row"
            raise unavailable(self.table, self.health, reason)
        time.sleep(random.uniform(0, min(MAX_PAUSE_SECONDS, 0.005 * 2**tries)))
        return tries + 1

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
