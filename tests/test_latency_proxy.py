"""The benchmark's latency proxy counts what passes it: each AWS request by the operation its X-Amz-Target names,
each error answer by its type, whoever sends them, and the time each waited for its answer; and it adds its
delay to every request."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from bench.approvals.common import latency_proxy
from bench.latency_proxy import OPERATION, Tally
from harness.emulator import Emulator
from harness.tables import new_approvals_table

DELAY_MS = 50


def test_requests_are_counted_per_operation_and_error_answers_per_type(emulator: Emulator) -> None:
    table = new_approvals_table(emulator)
    with latency_proxy(emulator, 0) as proxy:
        dynamodb, sqs = emulator.client("dynamodb", proxy.url), emulator.client("sqs", proxy.url)
        for number in range(3):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": f"p{number}"}, "sk": {"S": "s"}})
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):
            dynamodb.put_item(
                TableName=table,
                Item={"pk": {"S": "p0"}, "sk": {"S": "s"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"S": "s"}})
        sqs.list_queues()
        dynamodb.close()
        sqs.close()

        assert proxy.operations.snapshot() == {
            "DynamoDB_20120810.PutItem": 4,
            "DynamoDB_20120810.GetItem": 1,
            "AmazonSQS.ListQueues": 1,
        }
        assert proxy.errors.snapshot() == {"ConditionalCheckFailedException": 1}
        waits = proxy.waits.snapshot()
        assert set(waits) == set(proxy.operations.snapshot()) and all(seconds > 0 for seconds in waits.values())
        proxy.reset_counts()
        assert not proxy.operations.snapshot()


def test_a_header_cut_between_chunks_is_counted_once() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.Query\r\nContent-Length: 2\r\n\r\n{}"
    tally = Tally(OPERATION)
    scanner = tally.scanner()
    for index in range(len(request)):
        scanner.feed(request[index : index + 1])
    scanner.feed(request)

    assert tally.snapshot() == {"DynamoDB_20120810.Query": 2}


def test_each_request_is_delayed(emulator: Emulator) -> None:
    with latency_proxy(emulator, DELAY_MS) as proxy:
        sqs = emulator.client("sqs", proxy.url)
        sqs.list_queues()  # the connection is open: what follows is one request and its answer
        began = time.perf_counter()
        sqs.list_queues()
        took = time.perf_counter() - began
        sqs.close()
        waited = proxy.waits.snapshot()["AmazonSQS.ListQueues"]
    assert took >= DELAY_MS / 1000
    assert waited < 2 * DELAY_MS / 1000, "the delay is not the emulator's: each wait starts once it is over"
