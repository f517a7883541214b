"""The emulator's DynamoDB keeps every acknowledged write when clients write at once, as DynamoDB does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend

from harness.emulator import Emulator

THREADS = 4
WRITES_PER_THREAD = 50


@pytest.fixture
def table(emulator: Emulator) -> str:
    name = f"isolation-{uuid.uuid4().hex[:12]}"
    emulator.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def in_threads(emulator: Emulator, work: Callable[[Any, int], list[Any]]) -> list[Any]:
    """Run work(client, thread number) in THREADS threads at once, each with its own client; all results."""
    clients = [emulator.client("dynamodb") for _ in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, clients, range(THREADS)))
    return [value for result in results for value in result]


def cancelled_transaction(dynamodb: Any, table: str) -> None:
    """A transaction whose condition fails, so DynamoDB cancels it and applies none of it."""
    missing = {"pk": {"S": f"missing-{uuid.uuid4().hex}"}}
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"ConditionCheck": {"TableName": table, "Key": missing, "ConditionExpression": "attribute_exists(pk)"}}
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_conditional_puts_beside_cancelled_transactions_are_all_kept(emulator: Emulator, table: str) -> None:
    def write(dynamodb: Any, thread: int) -> list[str]:
        written = []
        for number in range(WRITES_PER_THREAD):
            key = f"item-{thread}-{number}"
            dynamodb.put_item(TableName=table, Item={"pk": {"S": key}}, ConditionExpression="attribute_not_exists(pk)")
            written.append(key)
            cancelled_transaction(dynamodb, table)
        return written

    acknowledged = in_threads(emulator, write)

    stored = emulator.client("dynamodb").scan(TableName=table, Select="COUNT", ConsistentRead=True)
    assert (stored["Count"], len(acknowledged)) == (THREADS * WRITES_PER_THREAD, THREADS * WRITES_PER_THREAD)


def test_transactional_sequence_bumps_beside_cancelled_ones_give_every_number_once(
    emulator: Emulator, table: str
) -> None:
    """Each bump reads the head, then moves it on by one only if nobody else did, with its event in the same
    transaction: every acknowledged bump owns one number, and the numbers run without gaps."""
    head = {"pk": {"S": "head"}}
    emulator.client("dynamodb").put_item(TableName=table, Item={**head, "seq": {"N": "0"}})

    def bump(dynamodb: Any, thread: int) -> list[int]:
        taken = []
        while len(taken) < WRITES_PER_THREAD // 2:
            seen = int(dynamodb.get_item(TableName=table, Key=head, ConsistentRead=True)["Item"]["seq"]["N"])
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": head,
                                "UpdateExpression": "SET seq = :next",
                                "ConditionExpression": "seq = :seen",
                                "ExpressionAttributeValues": {":seen": {"N": str(seen)}, ":next": {"N": str(seen + 1)}},
                            }
                        },
                        {"Put": {"TableName": table, "Item": {"pk": {"S": f"event-{seen + 1}"}}}},
                    ]
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "TransactionCanceledException"
                continue  # another thread took this number: read the head again
            taken.append(seen + 1)
        return taken

    taken = in_threads(emulator, bump)

    dynamodb = emulator.client("dynamodb")
    final = int(dynamodb.get_item(TableName=table, Key=head, ConsistentRead=True)["Item"]["seq"]["N"])
    events = dynamodb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"] - 1
    assert sorted(taken) == list(range(1, len(taken) + 1))
    assert (final, events) == (len(taken), len(taken))


class _WriterBetweenCopyAndRestore(DynamoDBBackend):
    """moto's backend, with another client's write landing while a transaction is under way."""

    def __init__(self, write: Callable[[], object]) -> None:
        super().__init__("eu-west-1", "123456789012")
        self.pending_writes = [write]

    def get_item(self, *args: Any, **kwargs: Any) -> Any:
        # a transaction reads each item it checks after copying the tables it touches
        while self.pending_writes:
            self.pending_writes.pop()()
        return super().get_item(*args, **kwargs)


def test_canary_dynamodb_serves_one_call_at_a_time() -> None:
    """moto still loses a write made while a transaction is cancelled, which is why the emulator serves
    DynamoDB one call at a time: once this fails, moto keeps such a write itself
    and the lock in emulator/patches/dynamodb.py can go."""
    backend = _WriterBetweenCopyAndRestore(lambda: backend.put_item("t", {"pk": {"S": "meanwhile"}}))
    backend.create_table(
        "t",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    check = {"TableName": "t", "Key": {"pk": {"S": "missing"}}, "ConditionExpression": "attribute_exists(pk)"}

    with pytest.raises(TransactionCanceledException):
        backend.transact_write_items([{"ConditionCheck": check}])

    assert backend.pending_writes == []  # the other write did happen during the transaction
    assert backend.get_item("t", {"pk": {"S": "meanwhile"}}) is None
