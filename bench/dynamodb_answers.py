"""Time DynamoDB Queries that answer with many items, against the emulator with and without its direct item writer.

    .venv/bin/python -m bench.dynamodb_answers [--queries 200] [--items 100] [--item-bytes 2000]

Each way starts its own empty emulator (the baseline: bench/emulator_without_item_writer.py), fills one table, and
makes the same Queries one after another from one client; the figures are milliseconds per Query, as the client
sees them, and the answers of the two ways must be the same bytes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from harness.emulator import running_emulator

WARM_UP_QUERIES = 10
WAYS = {"moto's serializer": "bench.emulator_without_item_writer", "items written directly": "emulator"}


def item(number: int, size: int) -> dict[str, Any]:
    """An item of about `size` bytes holding every kind of attribute, text making up the rest."""
    return {
        "pk": {"S": "bench"},
        "sk": {"N": str(number)},
        "count": {"N": "12345.678"},
        "blob": {"B": bytes(range(64))},
        "flags": {"SS": ["a", "b", "c"]},
        "nested": {"M": {"state": {"S": "pending"}, "steps": {"L": [{"N": str(step)} for step in range(5)]}}},
        "done": {"BOOL": False},
        "note": {"S": "x" * max(0, size - 200)},
    }


def timed_queries(dynamodb: Any, queries: int, items: int, size: int) -> tuple[list[float], list[bytes]]:
    """Seconds each Query took, and every answer's body."""
    dynamodb.create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for number in range(items):
        dynamodb.put_item(TableName="bench", Item=item(number, size))
    bodies: list[bytes] = []
    dynamodb.meta.events.register(
        "before-parse.dynamodb.Query", lambda response_dict, **_: bodies.append(response_dict["body"])
    )
    query = {
        "TableName": "bench",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "bench"}},
    }
    seconds = []
    for number in range(WARM_UP_QUERIES + queries):
        started = time.perf_counter()
        assert len(dynamodb.query(**query)["Items"]) == items
        if number >= WARM_UP_QUERIES:
            seconds.append(time.perf_counter() - started)
    return seconds, bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--item-bytes", type=int, default=2000)
    args = parser.parse_args()
    answers = {}
    for way, module in WAYS.items():
        with TemporaryDirectory() as workdir, running_emulator(Path(workdir), "--empty", module=module) as emulator:
            seconds, answers[way] = timed_queries(
                emulator.client("dynamodb"), args.queries, args.items, args.item_bytes
            )
        print(
            f"{way}: {statistics.mean(seconds) * 1000:.1f} ms per Query on average, "
            f"{statistics.median(seconds) * 1000:.1f} ms median ({args.queries} Queries of {args.items} items, "
            f"{len(answers[way][-1]) // 1024} KiB each)"
        )
    first, second = answers.values()
    print("the answers are the same bytes" if first == second else "THE ANSWERS DIFFER")


if __name__ == "__main__":
    main()
