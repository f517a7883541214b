"""DynamoDB: where moto's answers differ from AWS's."""

from __future__ import annotations

import copy
import functools
import re
import threading
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ExpressionAttributeValueNotDefined,
    InvalidAttributeTypeError,
    MockValidationException,
    MultipleTransactionsException,
    ResourceNotFoundException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from emulator.patches.replacing import Fix, Replacements

TRANSACTION_PARTS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


def _one_call_at_a_time(replacements: Replacements) -> None:
    serve = DynamoHandler.call_action
    lock = threading.Lock()  # held for each DynamoDB call the emulator serves

    @functools.wraps(serve)
    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return serve(self)

    replacements.attribute(DynamoHandler, "call_action", call_action)


class _Undo:
    """The items a transaction changed, as they were before it, to be put back if it is cancelled."""

    def __init__(self) -> None:
        self._before: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []

    def keep(self, table: Table, key: dict[str, Any]) -> None:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        self._before.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))

    def put_back(self) -> None:
        for table, hash_value, range_value, item in reversed(self._before):
            if item is None:
                table.delete_item(hash_value, range_value)
            elif range_value is not None:
                table.items[hash_value][range_value] = item
            else:
                table.items[hash_value] = item


def _key_of(table: Table, kind: str, part: dict[str, Any]) -> dict[str, Any]:
    if kind != "Put":
        return dict(part["Key"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: part["Item"][name] for name in names}


def _apply(backend: DynamoDBBackend, kind: str, part: dict[str, Any], key: dict[str, Any]) -> None:
    """Make one part's change; its condition has been checked already."""
    names, values = part.get("ExpressionAttributeNames") or {}, part.get("ExpressionAttributeValues") or {}
    if kind == "Put":
        backend.put_item(part["TableName"], part["Item"])
    elif kind == "Delete":
        backend.delete_item(part["TableName"], key)
    elif kind == "Update":
        backend.update_item(part["TableName"], key, part["UpdateExpression"], names, values)


def _checked_part(
    backend: DynamoDBBackend, entry: dict[str, Any], targets: set[tuple[str, str]]
) -> tuple[str, dict[str, Any], Table, dict[str, Any]]:
    """One part's kind, fields, table and key, once its condition holds on the item as it is now.

    Raises what DynamoDB refuses the whole call for (two operations in one part, one item twice), and
    otherwise what becomes this part's cancellation reason.
    """
    if len(entry) > 1:
        raise TransactWriteSingleOpException
    kind, part = next(iter(entry.items()))
    if kind not in TRANSACTION_PARTS:
        raise ValueError("Unsupported transaction operation")
    table = backend.get_table(part["TableName"])
    key = _key_of(table, kind, part)
    target = (table.name, str(sorted(key.items())))
    if target in targets:
        raise MultipleTransactionsException()
    targets.add(target)
    current = backend.get_item(part["TableName"], key)
    condition = part.get("ConditionExpression")
    names, values = part.get("ExpressionAttributeNames"), part.get("ExpressionAttributeValues")
    if condition is not None and not get_filter_expression(condition, names, values).expr(current):
        wanted = part.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        raise _ConditionFailed(current.to_json()["Attributes"] if wanted and current is not None else None)
    return kind, part, table, key


class _ConditionFailed(ConditionalCheckFailed):
    """A part's failed condition, with the item it was checked on when the part asked for it back."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__(item=item)
        self.item = item


def _reason(error: Exception) -> tuple[str | None, str | None, dict[str, Any] | None]:
    if isinstance(error, _ConditionFailed):
        return "ConditionalCheckFailed", str(error.message), error.item
    return type(error).__name__, str(error), None  # moto reports any other failure as the part's reason


def _refuse_if_invalid(backend: DynamoDBBackend, entry: dict[str, Any]) -> None:
    """Raise the ValidationException DynamoDB refuses a whole transaction with for a part that is wrong whatever
    the items hold: a transaction about to be cancelled by a condition has not made its parts, and making them is
    where moto finds these (a key missing or of the wrong type, an item over 400 KB, a value left undefined)."""
    kind, part = next(iter(entry.items()))
    try:
        table = backend.get_table(part["TableName"])
    except ResourceNotFoundException:
        return  # already this part's cancellation reason
    if kind == "Put":
        item = part["Item"]
        for name, wanted in ((table.hash_key_attr, table.hash_key_type), (table.range_key_attr, table.range_key_type)):
            if name is None:
                continue
            if name not in item:
                raise MockValidationException(
                    f"One or more parameter values were invalid: Missing the key {name} in the item"
                )
            if DynamoType(item[name]).type != wanted:
                raise InvalidAttributeTypeError(name, expected_type=wanted, actual_type=DynamoType(item[name]).type)
        table._validate_item_types(item)
        table._validate_key_sizes(item)
        Item(DynamoType(item[table.hash_key_attr]), None, item)  # moto's item refuses a size over DynamoDB's limit
    values = part.get("ExpressionAttributeValues") or {}
    for value in re.findall(r":\w+", part.get("UpdateExpression") or ""):
        if value not in values:
            raise ExpressionAttributeValueNotDefined(value)


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, keeping a copy of the items it changes rather than of every table it touches.

    Every condition is checked before any part is made, as DynamoDB checks them all on the items as they were:
    a transaction cancelled by a condition (the usual case where writers race for one item) changes nothing,
    so it costs no update and no undo while every other table call waits for it.
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    targets: set[tuple[str, str]] = set()
    checked: list[tuple[str, dict[str, Any], Table, dict[str, Any]]] = []
    reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for entry in transact_items:
        try:
            checked.append(_checked_part(self, entry, targets))
            reasons.append((None, None, None))
        except MockValidationException:
            raise
        except Exception as error:
            reasons.append(_reason(error))
    if any(code is not None for code, _, _ in reasons):
        for entry in transact_items:
            _refuse_if_invalid(self, entry)
        raise TransactionCanceledException(reasons)
    undo = _Undo()
    for number, (kind, part, table, key) in enumerate(checked):
        try:
            if kind != "ConditionCheck":
                undo.keep(table, key)
                _apply(self, kind, part, key)
        except BaseException as error:
            undo.put_back()
            if isinstance(error, MockValidationException) or not isinstance(error, Exception):
                raise
            failed = [(None, None, None)] * len(checked)
            failed[number] = _reason(error)
            raise TransactionCanceledException(failed) from error


def _transactions_copy_their_items(replacements: Replacements) -> None:
    replacements.attribute(DynamoDBBackend, "transact_write_items", transact_write_items)


FIXES = (
    Fix(
        "dynamodb_serves_one_call_at_a_time",
        moto="TransactWriteItems deep-copies each table it touches and, when cancelled, puts the copy back: "
        "a write another client made meanwhile is lost although it was acknowledged (moto has no lock)",
        aws="an acknowledged write is never lost; each call is isolated from the others",
        canary="tests/test_emulator_dynamodb.py",
        install=_one_call_at_a_time,
    ),
    Fix(
        "dynamodb_transactions_copy_only_their_items",
        moto="TransactWriteItems deep-copies every table it touches before its first part, so a transaction takes "
        "time in proportion to the table (about 30 ms at 1,000 items, 150 ms at 5,000) while every other call waits",
        aws="a transaction's cost depends on its own items, not on the size of the table; every condition is "
        "checked before any part is made, so a cancelled transaction makes nothing",
        canary="tests/test_emulator_dynamodb.py",
        install=_transactions_copy_their_items,
    ),
)
