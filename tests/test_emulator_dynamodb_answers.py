"""The emulator's DynamoDB answers carry items as they were written, in exactly the bytes moto itself writes."""

from __future__ import annotations

import binascii
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.responses import ActionContext, get_service_model
from moto.core.serialize import AttributePickerContext, JSONSerializer, XFormedAttributePicker
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from emulator import patches
from harness.emulator import Emulator

EVERY_TYPE = {
    "text": {"S": "plain"},
    "empty": {"S": ""},
    "unicode": {"S": 'naïve ☃ 𝄞 "quoted" \\ \n'},
    "big": {"N": "12345678901234567890123456789012345678"},
    "decimal": {"N": "-0.000123"},
    "bytes": {"B": b"\x00\xff binary \x80"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "strings": {"SS": ["a", "ü"]},
    "numbers": {"NS": ["1", "2.5", "-99999999999999999999"]},
    "blobs": {"BS": [b"\x01", b"\x02\x03"]},
    "things": {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x04"}, {"L": []}, {"M": {}}, {"NULL": True}]},
    "nested": {
        "M": {"deeper": {"M": {"deep": {"BS": [b"\x05"]}, "off": {"BOOL": False}}}, "l": {"L": [{"SS": ["s"]}]}}
    },
}
ITEMS = [{"pk": {"S": "p"}, "sk": {"N": str(number)}, "group": {"S": "g"}, **EVERY_TYPE} for number in range(5)]
KEYS = [{"pk": item["pk"], "sk": item["sk"]} for item in ITEMS]


@dataclass(frozen=True)
class Answer:
    """One answer of DynamoDB: as sent, and as boto3 decoded it (an error's response for an error)."""

    status: int
    body: bytes
    crc32: str | None
    decoded: dict[str, Any]


class Recorder:
    """Makes calls with one boto3 client, keeping each answer under a label (and what the calls read, decoded)."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.answers: dict[str, Answer] = {}
        self.decoded: dict[str, Any] = {}
        self._sent: list[dict[str, Any]] = []
        dynamodb.meta.events.register(
            "before-parse.dynamodb", lambda response_dict, **_: self._sent.append(response_dict)
        )

    def call(self, label: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            decoded = getattr(self.dynamodb, operation)(**params)
        except ClientError as error:
            decoded = error.response
        sent = self._sent[-1]
        self.answers[label] = Answer(sent["status_code"], sent["body"], sent["headers"].get("x-amz-crc32"), decoded)
        return dict(decoded)

    def pages(self, label: str, operation: str, **params: Any) -> list[dict[str, Any]]:
        """Items of every page, two items a page, each page an answer of its own."""
        items, start = [], {}
        for page in range(len(ITEMS) + 1):
            answer = self.call(f"{label} page {page}", operation, Limit=2, **params, **start)
            items += answer["Items"]
            if "LastEvaluatedKey" not in answer:
                return items
            start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}
        raise AssertionError(f"{operation} did not stop paging after {len(ITEMS)} items")


def create_table(dynamodb: Any, table: str) -> None:
    attribute = [("pk", "S"), ("sk", "N"), ("group", "S")]
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind} for name, kind in attribute],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_group",
                "KeySchema": [
                    {"AttributeName": "group", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def reads(calls: Recorder, table: str) -> dict[str, Any]:
    """Read the items back through every operation that answers with items; what each gave, decoded."""
    by_pk = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}}
    by_group = {"KeyConditionExpression": "#g = :g", "ExpressionAttributeValues": {":g": {"S": "g"}}}
    projection = {
        "ProjectionExpression": "sk, nested.deeper, things[2], bytes",
    }
    get = {"TableName": table, "Key": KEYS[0]}
    return {
        "get": calls.call("get", "get_item", **get, ConsistentRead=True)["Item"],
        "get projected": calls.call("get projected", "get_item", **get, **projection)["Item"],
        "get counted": calls.call("get counted", "get_item", **get, ReturnConsumedCapacity="TOTAL")["Item"],
        "get missing": calls.call("get missing", "get_item", TableName=table, Key={**KEYS[0], "sk": {"N": "99"}}),
        "query": calls.pages("query", "query", TableName=table, ReturnConsumedCapacity="INDEXES", **by_pk),
        "query projected": calls.call("query projected", "query", TableName=table, **by_pk, **projection)["Items"],
        "query index": calls.pages(
            "query index",
            "query",
            TableName=table,
            IndexName="by_group",
            ExpressionAttributeNames={"#g": "group"},
            ReturnConsumedCapacity="TOTAL",
            **by_group,
        ),
        "query count": calls.call("query count", "query", TableName=table, Select="COUNT", **by_pk)["Count"],
        "scan": calls.pages("scan", "scan", TableName=table, ReturnConsumedCapacity="TOTAL"),
        "batch get": calls.call(
            "batch get", "batch_get_item", RequestItems={table: {"Keys": KEYS}}, ReturnConsumedCapacity="TOTAL"
        )["Responses"][table],
        "batch get projected": calls.call(
            "batch get projected", "batch_get_item", RequestItems={table: {"Keys": KEYS[:2], **projection}}
        )["Responses"][table],
        "transact get": [
            response.get("Item")
            for response in calls.call(
                "transact get",
                "transact_get_items",
                TransactItems=[
                    {"Get": {"TableName": table, "Key": key}} for key in [*KEYS[:2], {**KEYS[0], "sk": {"N": "99"}}]
                ],
                ReturnConsumedCapacity="INDEXES",
            )["Responses"]
        ],
    }


def writes(calls: Recorder, table: str) -> dict[str, Any]:
    """Change the items with every write that can answer with them; what each gave back, decoded."""
    key = KEYS[1]

    def update(label: str, returned: str, value: dict[str, Any]) -> Any:
        answer = calls.call(
            label,
            "update_item",
            TableName=table,
            Key=key,
            UpdateExpression="SET added = :v",
            ExpressionAttributeValues={":v": value},
            ReturnValues=returned,
            ReturnConsumedCapacity="TOTAL",
        )
        return answer.get("Attributes")

    return {
        "put all old": calls.call(
            "put all old",
            "put_item",
            TableName=table,
            Item=ITEMS[1],
            ReturnValues="ALL_OLD",
            ReturnConsumedCapacity="TOTAL",
        )["Attributes"],
        "put new": calls.call(
            "put new", "put_item", TableName=table, Item={**ITEMS[0], "sk": {"N": "7"}}, ReturnValues="ALL_OLD"
        ).get("Attributes"),
        "update all old": update("update all old", "ALL_OLD", {"B": b"\x10"}),
        "update all new": update("update all new", "ALL_NEW", {"BS": [b"\x11"]}),
        "update updated new": update("update updated new", "UPDATED_NEW", {"M": {"n": {"N": "1.5"}}}),
        "update updated old": update("update updated old", "UPDATED_OLD", {"L": [{"S": "é"}]}),
        "delete all old": calls.call(
            "delete all old",
            "delete_item",
            TableName=table,
            Key=KEYS[4],
            ReturnValues="ALL_OLD",
            ReturnConsumedCapacity="TOTAL",
        )["Attributes"],
        "batch write": calls.call(
            "batch write",
            "batch_write_item",
            RequestItems={
                table: [{"PutRequest": {"Item": ITEMS[4]}}, {"DeleteRequest": {"Key": {**key, "sk": {"N": "7"}}}}]
            },
        )["UnprocessedItems"],
        "transact write": calls.call(
            "transact write",
            "transact_write_items",
            TransactItems=[
                {"Put": {"TableName": table, "Item": ITEMS[3]}},
                {"Delete": {"TableName": table, "Key": KEYS[2]}},
            ],
        ),
    }


def refusals(calls: Recorder, table: str) -> dict[str, Any]:
    """Writes refused with the item they found, which keep moto's path for errors."""
    failed = calls.call(
        "put refused",
        "put_item",
        TableName=table,
        Item=ITEMS[0],
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    cancelled = calls.call(
        "transaction cancelled",
        "transact_write_items",
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": KEYS[0],
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ],
    )
    return {"put refused": failed["Item"], "transaction cancelled": cancelled["CancellationReasons"][0]["Item"]}


def exchange(dynamodb: Any, table: str) -> Recorder:
    """Create the table and its items, then make every call of this file, in the same order each time."""
    create_table(dynamodb, table)
    for item in ITEMS:
        dynamodb.put_item(TableName=table, Item=item)
    calls = Recorder(dynamodb)
    calls.decoded = {**reads(calls, table), **writes(calls, table), **refusals(calls, table)}
    return calls


def as_stored(value: Any) -> Any:
    """A value with its sets in one order: DynamoDB keeps a set's members in no order."""
    if isinstance(value, dict):
        return {
            kind: sorted(inner) if kind in ("SS", "NS", "BS") else as_stored(inner) for kind, inner in value.items()
        }
    if isinstance(value, list):
        return [as_stored(member) for member in value]
    return value


@pytest.fixture
def table() -> str:
    return f"answers-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def emulator_calls(emulator: Emulator, table: str) -> Recorder:
    return exchange(emulator.client("dynamodb"), table)


def test_items_of_every_type_read_back_as_written(emulator_calls: Recorder) -> None:
    read, written = as_stored(emulator_calls.decoded), as_stored(ITEMS)
    projected = {
        "sk": ITEMS[0]["sk"],
        "nested": {"M": {"deeper": EVERY_TYPE["nested"]["M"]["deeper"]}},
        "things": {"L": [EVERY_TYPE["things"]["L"][2]]},
        "bytes": EVERY_TYPE["bytes"],
    }

    for label in ("get", "get counted"):
        assert read[label] == written[0], label
    for label in ("query", "query index", "scan", "batch get"):
        assert sorted(read[label], key=lambda item: item["sk"]["N"]) == written, label
    assert read["transact get"] == [*written[:2], None]
    assert read["get projected"] == read["query projected"][0] == read["batch get projected"][0] == projected
    assert (read["get missing"].get("Item"), read["query count"]) == (None, len(ITEMS))


def test_writes_answer_with_the_items_as_they_were(emulator_calls: Recorder) -> None:
    given = as_stored(emulator_calls.decoded)
    old = as_stored(ITEMS[1])

    assert (given["put all old"], given["put new"], given["update all old"]) == (old, None, old)
    assert given["update all new"] == {**old, "added": {"BS": [b"\x11"]}}
    assert given["update updated new"] == {"added": {"M": {"n": {"N": "1.5"}}}}
    assert given["update updated old"] == {"added": {"M": {"n": {"N": "1.5"}}}}
    assert (given["delete all old"], given["batch write"]) == (as_stored(ITEMS[4]), {})
    assert given["put refused"] == given["transaction cancelled"] == as_stored(ITEMS[0])


def test_every_answer_is_moto_s_own_to_the_byte_with_its_checksum(emulator_calls: Recorder, table: str) -> None:
    """The same calls, with the same table name, to moto as shipped in this process: the emulator's bodies
    are those moto's own serializer writes, and each x-amz-crc32 is the checksum of the body sent."""
    assert not patches.applied()
    with mock_aws():
        shipped = exchange(boto3.client("dynamodb", region_name="eu-west-1"), table).answers

    answers = emulator_calls.answers
    assert list(answers) == list(shipped)
    for label, answer in answers.items():
        assert (answer.status, answer.body.decode()) == (shipped[label].status, shipped[label].body.decode()), label
        assert answer.crc32 == str(binascii.crc32(answer.body)), label


def test_canary_dynamodb_writes_items_directly() -> None:
    """moto still writes each AttributeValue by looking up every member of its shape, which is why the emulator
    writes items directly: once this fails, moto writes them without the lookups and the fix can go."""
    looked_up: list[str] = []

    class Counting(XFormedAttributePicker):
        def __call__(self, context: AttributePickerContext) -> Any:
            looked_up.append(context.key)
            return super().__call__(context)

    operation = get_service_model("dynamodb").operation_model("GetItem")
    JSONSerializer(operation, value_picker=Counting()).serialize({"Item": {"a": {"S": "x"}, "b": {"N": "1"}}})

    assert [looked_up.count(member) for member in ("S", "N", "B", "L", "M", "BOOL")] == [2] * 6


def answer_body(item: dict[str, Any]) -> str:
    """The body of a GetItem answer holding item, written as the DynamoDB responses of this process write it."""
    model = get_service_model("dynamodb")
    context = ActionContext(model, model.operation_model("GetItem"), JSONSerializer, DynamoHandler())
    return str(DynamoResult({"Item": item}).execute_result(context)[2])


@pytest.fixture
def fixed() -> Iterator[None]:
    """The emulator's fixes installed in this process, for one test."""
    patches.apply()
    yield
    patches.undo()


def test_the_fix_writes_an_answer_s_values_without_looking_up_their_members(
    fixed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    pick = XFormedAttributePicker.__call__

    def counting(self: XFormedAttributePicker, context: AttributePickerContext) -> Any:
        looked_up.append(context.key)
        return pick(self, context)

    monkeypatch.setattr(XFormedAttributePicker, "__call__", counting)

    body = answer_body({"a": {"S": "x"}, "b": {"N": "1"}, "c": {"M": {"d": {"BOOL": True}}}})

    assert json.loads(body) == {"Item": {"a": {"S": "x"}, "b": {"N": "1"}, "c": {"M": {"d": {"BOOL": True}}}}}
    assert looked_up and not {"S", "N", "M", "BOOL"} & set(looked_up)  # the answer's own members only


def test_a_value_named_by_an_empty_name_is_left_to_moto_s_own_writing(fixed: None) -> None:
    # moto writes the members of a value named "" into the map holding it; the emulator keeps moto's bytes
    item = {"odd": {"M": {"": {"S": "y"}, "S": {"N": "1"}}}, "plain": {"S": "x"}}
    with_the_fix = answer_body(item)
    patches.undo()

    assert with_the_fix == answer_body(item)
