"""The numbering items of the table and the changes of this process waiting for one: whoever commits for an item
takes every change waiting for it that fits one transaction, and numbers them in the order they came (group
commit), so a process commits as many changes per round trip as it has writers waiting."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from controller.core.errors import StoreUnavailable
from controller.storage.dynamodb.items import AUDIT_COUNTER, HEAD

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Parts = Callable[[int], Sequence["TransactWriteItemTypeDef"]]  # a change's parts, made for its number

# well inside DynamoDB's limits of one transaction: 100 actions (the item's own Update is one) and 4 MB
MAX_CHANGES = 25
MAX_ACTIONS = 100
MAX_BYTES = 1_000_000  # of the parts' text, an estimate of their size; a change above it goes alone


class Waiting:
    """One caller's change, waiting for a transaction to number it, then its answer."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.alone = False  # once a batch it was in failed for its content: it is tried on its own
        self.done = False
        self.committed = False
        self.error: BaseException | None = None

    def result(self) -> bool:
        """True if it committed, False if its first part's condition failed; its own error raised."""
        if isinstance(self.error, StoreUnavailable):
            # a failure of the table answers every change of the batch with one instance: raised by their callers
            # in several threads at once, its traceback would mix their frames, so each raises a copy of its own
            raise type(self.error)(self.error.message, **self.error.details) from self.error
        if self.error is not None:
            raise self.error
        return self.committed


class Head:
    """One numbering item as this process last saw it commit, shared by every store of one backend: the next
    number is first tried against `latest`, and a transaction cancelled because another controller moved the
    item on brings the item back with it. This process's changes wait in `waiting`, under `turn`; the one
    thread `leading` commits them, so they never cancel one another: only other controllers' writes collide."""

    def __init__(self, key: Mapping[str, str]) -> None:
        self.key, self.latest = key, 0
        self.turn = threading.Condition()
        self.waiting: list[Waiting] = []
        self.leading = False

    def settle(self, changes: Sequence[Waiting], answer: bool | BaseException) -> None:
        """Give these changes their answer and wake their callers."""
        with self.turn:
            for change in changes:
                change.committed, change.error = answer is True, answer if isinstance(answer, BaseException) else None
                change.done = True
                self.waiting.remove(change)
            self.turn.notify_all()


@dataclass(frozen=True)
class Heads:
    """The table's numberings: the event log's (every change of a request) and the audit trail's."""

    events: Head = field(default_factory=lambda: Head(HEAD))
    audit: Head = field(default_factory=lambda: Head(AUDIT_COUNTER))


@dataclass
class Batch:
    """Changes numbered after `after`, in order, for one transaction, and where each one's parts begin."""

    after: int
    changes: list[Waiting] = field(default_factory=list)
    parts: list[TransactWriteItemTypeDef] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # the items the parts change: one action each at most
    size: int = 0

    def add(self, change: Waiting, parts: Sequence[TransactWriteItemTypeDef]) -> None:
        self.changes.append(change)
        self.starts.append(len(self.parts))
        self.parts.extend(parts)
        self.touched.update(_items(parts))
        self.size += _size(parts)

    def fits(self, parts: Sequence[TransactWriteItemTypeDef]) -> bool:
        """Whether a change fits in after those taken: within the limits, and no item it changes changed twice."""
        return (
            len(self.changes) < MAX_CHANGES
            and len(self.parts) + len(parts) < MAX_ACTIONS
            and self.size + _size(parts) <= MAX_BYTES
            and self.touched.isdisjoint(_items(parts))
        )


def take(waiting: Sequence[Waiting], after: int) -> tuple[Batch, list[tuple[Waiting, Exception]]]:
    """The next batch of the waiting changes numbered after `after`: the first one, and those after it that fit
    (one tried alone goes alone), with the changes whose parts could not be made and why."""
    batch, unmade = Batch(after), []
    for change in waiting:
        try:
            parts = change.parts(after + len(batch.changes) + 1)
        except Exception as error:  # that caller's bug: its answer, not the batch's
            unmade.append((change, error))
            continue
        if not batch.changes:
            batch.add(change, parts)
            if change.alone or not batch.fits([]):
                break
        elif not change.alone and batch.fits(parts):
            batch.add(change, parts)
    return batch, unmade


def _items(parts: Sequence[TransactWriteItemTypeDef]) -> Iterator[str]:
    for part in parts:
        for kind, action in part.items():
            named = cast("Mapping[str, Any]", action)
            key = named["Item"] if kind == "Put" else named["Key"]
            yield f"{named['TableName']} {key['pk']} {key['sk']}"


def _size(parts: Sequence[TransactWriteItemTypeDef]) -> int:
    return len(repr(parts))
