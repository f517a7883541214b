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


def with_table(backend: DynamoDBBackend) -> DynamoDBBackend:
    """moto's backend itself, in this process, with a table "t" keyed by pk."""
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
    return backend


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
    with_table(backend)
    check = {"TableName": "t", "Key": {"pk": {"S": "missing"}}, "ConditionExpression": "attribute_exists(pk)"}

    with pytest.raises(TransactionCanceledException):
        backend.transact_write_items([{"ConditionCheck": check}])

    assert backend.pending_writes == []  # the other write did happen during the transaction
    assert backend.get_item("t", {"pk": {"S": "meanwhile"}}) is None


def test_a_cancelled_transaction_leaves_every_item_as_it_was(emulator: Emulator, table: str) -> None:
    dynamodb = emulator.client("dynamodb")
    kept, changed = {"pk": {"S": "kept"}}, {"pk": {"S": "changed"}}
    for item in (kept, changed):
        dynamodb.put_item(TableName=table, Item={**item, "n": {"N": "1"}})
    before = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": changed,
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "gone"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": kept,
                        "ConditionExpression": "n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert reasons[3]["Item"] == {**kept, "n": {"N": "1"}}
    assert sorted(map(str, dynamodb.scan(TableName=table, ConsistentRead=True)["Items"])) == sorted(map(str, before))


def test_a_transaction_refused_as_invalid_changes_nothing(emulator: Emulator, table: str) -> None:
    dynamodb = emulator.client("dynamodb")
    twice = {"pk": {"S": "twice"}}

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "first"}}}},
                {"Put": {"TableName": table, "Item": twice}},
                {"Delete": {"TableName": table, "Key": twice}},
            ]
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert dynamodb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"] == 0


def test_a_transaction_whose_change_fails_after_its_conditions_hold_changes_nothing(
    emulator: Emulator, table: str
) -> None:
    dynamodb = emulator.client("dynamodb")
    text = {"pk": {"S": "text"}}
    dynamodb.put_item(TableName=table, Item={**text, "n": {"S": "one"}})

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "first"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": text,
                        "UpdateExpression": "SET n = n + :one",  # a string plus a number: refused when made
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert dynamodb.scan(TableName=table, ConsistentRead=True)["Items"] == [{**text, "n": {"S": "one"}}]


@pytest.mark.parametrize(
    "wrong",
    [
        {"Put": {"Item": {"pk": {"N": "1"}}}},  # the key's type is S
        {"Put": {"Item": {"pk": {"S": "large"}, "text": {"S": "x" * 410_000}}}},  # over DynamoDB's 400 KB
        {"Put": {"Item": {"text": {"S": "no key"}}}},
        {"Update": {"Key": {"pk": {"S": "any"}}, "UpdateExpression": "SET c = :undefined"}},
    ],
    ids=["key of the wrong type", "item too large", "no key", "value not defined"],
)
def test_a_part_wrong_whatever_the_items_hold_refuses_the_call_even_beside_a_failed_condition(
    emulator: Emulator, table: str, wrong: dict[str, dict[str, Any]]
) -> None:
    dynamodb = emulator.client("dynamodb")
    (kind, fields), missing = next(iter(wrong.items())), {"pk": {"S": "missing"}}
    failing = {"TableName": table, "Key": missing, "ConditionExpression": "attribute_exists(pk)"}

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[{"ConditionCheck": failing}, {kind: {"TableName": table, **fields}}]
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert dynamodb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"] == 0


def test_canary_dynamodb_transactions_copy_only_their_items() -> None:
    """moto still puts back a copy of the whole table when a transaction is cancelled, which is why the
    emulator's transactions keep only the items they change: once this fails, moto copies no table."""
    backend = with_table(DynamoDBBackend("eu-west-1", "123456789012"))
    served = backend.tables["t"]
    check = {"TableName": "t", "Key": {"pk": {"S": "missing"}}, "ConditionExpression": "attribute_exists(pk)"}

    with pytest.raises(TransactionCanceledException):
        backend.transact_write_items([{"ConditionCheck": check}])

    assert backend.tables["t"] is not served
