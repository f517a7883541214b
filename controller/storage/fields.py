"""Reading a kept record's fields by name, each checked to be of the type its record says: SQLite's rows and
DynamoDB's items come back untyped (and DynamoDB's numbers as decimals)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TypeVar

Fields = Mapping[str, object]  # a row or an item, by column or attribute name
Choice = TypeVar("Choice", bound=str)


def _wrong(name: str, value: object, expected: str) -> TypeError:
    # the value itself stays out of the message: the field may be a secret (a task token, a hash)
    return TypeError(f"the stored field {name!r} holds a {type(value).__name__}, not {expected}")


def text(fields: Fields, name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise _wrong(name, value, "text")
    return value


def optional_text(fields: Fields, name: str) -> str | None:
    """The text in a field, or None when the field is absent or empty (SQL NULL)."""
    return None if fields.get(name) is None else text(fields, name)


def number(fields: Fields, name: str, default: int | None = None) -> int:
    """The whole number in a field, or the default when there is one and the field is absent."""
    value = fields.get(name, default) if default is not None else fields[name]
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise _wrong(name, value, "a number")
    return int(value)


def one_of(fields: Fields, name: str, choices: tuple[Choice, ...], default: Choice | None = None) -> Choice:
    """The field's text, which must be one of the choices (a Literal's); the default when the field is absent."""
    value = fields.get(name, default) if default is not None else fields[name]
    for choice in choices:
        if value == choice:
            return choice
    raise TypeError(f"the stored field {name!r} is none of {', '.join(choices)}")
