"""Reading the approvals table page by page, and writing it on conditions."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from botocore.exceptions import ClientError

from controller.core.errors import StoreUnavailable
from controller.storage import fields
from controller.storage.dynamodb.failures import busy, refused, unavailable
from controller.storage.dynamodb.items import BY_LIST, plain, update_of, wire
from controller.storage.dynamodb.numbering import Batch, Head, Heads, Parts, Waiting, take
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

    def _numbered(self, head: Head, parts: Parts) -> bool:
        """Commit the parts made for the next number of a numbering with the item moved on to it; False if the
        first part's own condition failed (that change no longer applies), which nothing retries.

        The change waits for the item with this process's others: one thread at a time leads, and commits
        every change waiting that fits one transaction (numbering.take), so a caller may find its change
        committed by another's transaction, or lead the next one. The first try of a process takes the number
        after 0: the item, if it is further, comes back with the cancellation, as it does whenever another
        controller numbered in between."""
        self._refuse_while_failing()  # before waiting: a trial hanging under the lead would hold every writer up
        change = Waiting(parts)
        with head.turn:
            head.waiting.append(change)
            while head.leading and not change.done:
                head.turn.wait()
            if change.done:
                return change.result()
            head.leading = True
        try:
            self._lead(head, change)
        finally:
            with head.turn:
                head.leading = False
                head.turn.notify_all()
        return change.result()

    def _lead(self, head: Head, own: Waiting) -> None:
        """Commit batches of the changes waiting for the item, oldest first, until this thread's own is answered.
        A failure of the table's is every change's of the batch; any other error only the faulty change's."""
        tries = fresh = 0
        while not own.done:
            with head.turn:
                waiting = list(head.waiting)
            try:
                self._refuse_while_failing()
            except StoreUnavailable as error:
                head.settle(waiting, error)
                return
            batch, unmade = take(waiting, head.latest)
            for change, why in unmade:
                head.settle([change], why)
            try:
                tries, fresh = self._commit_batch(head, batch, tries, fresh)
            except StoreUnavailable as error:
                head.settle(batch.changes, error)
            except Exception as error:
                self._fail_alone(head, batch, error)

    def _commit_batch(self, head: Head, batch: Batch, tries: int, fresh: int) -> tuple[int, int]:
        """Commit a batch with the item moved on past it, settle the changes it answered for, and return the
        cancelled tries so far: those paused after and those tried again at once (MAX_FRESH_TRIES)."""
        if not batch.changes:
            return tries, fresh
        last = batch.after + len(batch.changes)
        moved = update_of(
            self.table,
            head.key,
            {"latest": last},
            "attribute_not_exists(latest) OR latest = :seen",
            seen=batch.after,
        )
        moved["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        reasons = self._transact(*batch.parts, {"Update": moved})
        if reasons is None:
            head.latest = last
            head.settle(batch.changes, True)
            return 0, 0
        moved_on = reasons[-1].get("Item")  # the item as another controller left it, if it moved on
        if moved_on:
            head.latest = fields.number(plain(moved_on), "latest")
        failed = [change for change, start in zip(batch.changes, batch.starts, strict=True) if _failed(reasons[start])]
        if failed:  # those no longer apply; the others are tried again at once, numbered anew
            head.settle(failed, False)
            return tries, fresh
        if moved_on and fresh < MAX_FRESH_TRIES:
            # another controller numbered in between and the item says where it is now: each such
            # collision is someone's progress, and pausing here would hold this process's writers up too
            return tries, fresh + 1
        if not moved_on:  # a part after a change's first failed, the item did not say why: read it
            head.latest = fields.number(self._get(head.key) or {}, "latest", 0)
        return self._pause(tries), fresh

    def _fail_alone(self, head: Head, batch: Batch, error: Exception) -> None:
        """A batch refused for its content (a validation error, an item too large): the error of its change if
        it was alone, else each of its changes is tried alone, so that the faulty one alone gets it."""
        if len(batch.changes) == 1:
            head.settle(batch.changes, error)
            return
        for change in batch.changes:
            change.alone = True

    def _refuse_while_failing(self) -> None:
        """StoreUnavailable, unsent, while a failure of the table is noted: a numbering's calls are never the one
        that tries the table again, since the writers waiting for its leader would wait out that call's hang too.
        Checked again before each batch: the changes waiting then are refused with it."""
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


def _failed(reason: CancellationReason) -> bool:
    return reason.get("Code") == "ConditionalCheckFailed"
