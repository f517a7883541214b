"""What a fix of moto is, and the record of what it replaced, so moto can be put back as it was."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

_ABSENT = object()  # an attribute or key that did not exist before it was replaced


class Replacements:
    """Attributes and settings replaced on moto, each original kept to be restored in reverse order."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def attribute(self, owner: Any, name: str, value: Any) -> None:
        """Set owner.name, remembering the value owner itself held (not one it inherits)."""
        original = vars(owner).get(name, _ABSENT)
        setattr(owner, name, value)
        self._undo.append(lambda: delattr(owner, name) if original is _ABSENT else setattr(owner, name, original))

    def item(self, mapping: MutableMapping[str, Any], key: str, value: Any) -> None:
        """Set mapping[key], remembering what it held."""
        original = mapping.get(key, _ABSENT)
        mapping[key] = value
        self._undo.append(lambda: mapping.pop(key, None) if original is _ABSENT else mapping.update({key: original}))

    def undo(self) -> None:
        """Restore everything replaced, newest first."""
        while self._undo:
            self._undo.pop()()


@dataclass(frozen=True)
class Fix:
    """One correction of moto: what moto does, what AWS does instead, and how the correction is installed.

    `canary` names the test file whose `test_canary_<name>` fails once moto answers as AWS does, so the
    fix can go (and could go upstream meanwhile); None for an option of moto this emulator turns on.
    """

    name: str
    moto: str
    aws: str
    canary: str | None
    install: Callable[[Replacements], None]
