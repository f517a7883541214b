"""DynamoDB: the items in answers written straight to JSON, rather than member by member through botocore's shapes.

moto's JSON serializer writes an AttributeValue by looking up each of the shape's ten members (S, N, B, ... BOOL)
in it under several aliases, for every value of every item: a Query of 100 items of 2 KB took 147 ms at the
emulator, 35 ms with items written directly (bench/dynamodb_answers.py), and all of it while the emulator's DynamoDB
lock (emulator/patches/dynamodb.py) keeps every other table call waiting. Here a value in the form moto's backend
gives it is written directly; the rest of the answer (which members it has, their order, numbers as the shape types
them) and any value in another form still go through moto, so each answer stays the bytes moto writes (where
moto answers at all: items nested past about 160 levels, which DynamoDB refuses past 32, make moto's writing fail).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from moto.core.model import Shape
from moto.core.responses import ActionContext
from moto.core.serialize import JSONSerializer, Serialized
from moto.dynamodb.responses import DynamoResult

from emulator.patches.replacing import Fix, Replacements

# the answers that carry items; moto answers BatchWriteItem and TransactWriteItems with no AttributeValue at all
ITEM_OPERATIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "PutItem", "UpdateItem", "DeleteItem"}
)

_UNSURE = object()  # a value in a form other than moto's backend gives: moto's serializer writes it


def _string(value: Any) -> Any:
    return value if type(value) is str else _UNSURE


def _blob(value: Any) -> Any:
    # moto's backend hands binary values over as bytes (moto.dynamodb.models.utilities.dynamo_to_dict);
    # a str there would be base64-encoded once more by moto, so it is left to moto
    return base64.b64encode(value).decode("ascii") if type(value) is bytes else _UNSURE


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else _UNSURE


def _list_of(member: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def written(values: Any) -> Any:
        if type(values) is not list:
            return _UNSURE
        members = [member(value) for value in values]
        return _UNSURE if any(value is _UNSURE for value in members) else members

    return written


def _map(values: Any) -> Any:
    if type(values) is not dict or "" in values:  # moto writes an empty name's members into the map itself
        return _UNSURE
    members = {name: attribute_value(value) for name, value in values.items()}
    return _UNSURE if any(value is _UNSURE for value in members.values()) else members


_MEMBERS: dict[str, Callable[[Any], Any]] = {
    "S": _string,
    "N": _string,
    "B": _blob,
    "SS": _list_of(_string),
    "NS": _list_of(_string),
    "BS": _list_of(_blob),
    "M": _map,
    "L": _list_of(lambda value: attribute_value(value)),  # attribute_value is defined below
    "NULL": _boolean,
    "BOOL": _boolean,
}


def attribute_value(value: Any) -> Any:
    """One AttributeValue as moto's JSON serializer writes it, or _UNSURE if it is not one type and its value."""
    if type(value) is not dict or len(value) != 1:
        return _UNSURE
    ((kind, inner),) = value.items()
    write = _MEMBERS.get(kind)
    written = _UNSURE if write is None else write(inner)
    return _UNSURE if written is _UNSURE else {kind: written}


class ItemsAsJsonSerializer(JSONSerializer):
    """moto's JSON serializer, writing each AttributeValue it can directly."""

    def _serialize(self, serialized: Serialized, value: Any, shape: Shape, key: str) -> None:
        if shape.name == "AttributeValue" and key:  # moto writes an empty name's members into the map itself
            written = attribute_value(value)
            if written is not _UNSURE:
                serialized[self.get_serialized_name(shape, key)] = written
                return
        super()._serialize(serialized, value, shape, key)


def _items_written_directly(replacements: Replacements) -> None:
    execute = DynamoResult.execute_result

    @functools.wraps(execute)
    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        # errors are ActionResults, never DynamoResults: an error's Item keeps moto's own path
        if context.serializer_class is JSONSerializer and context.operation_model.name in ITEM_OPERATIONS:
            context = dataclasses.replace(context, serializer_class=ItemsAsJsonSerializer)
        return execute(self, context)

    replacements.attribute(DynamoResult, "execute_result", execute_result)


FIXES = (
    Fix(
        "dynamodb_writes_items_directly",
        moto="each AttributeValue of an answer is written by looking up all ten members of its shape under several "
        "aliases: a Query of 100 items of 2 KB takes about 150 ms, every other DynamoDB call waiting meanwhile",
        aws="an answer's items take about as long as their JSON does to write (the same Query: about 35 ms here)",
        canary="tests/test_emulator_dynamodb_answers.py",
        install=_items_written_directly,
    ),
)
