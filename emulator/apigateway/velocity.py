"""Velocity templates as API Gateway runs them: airspeed-ext, with Java's String methods where it differs.

airspeed-ext keeps string literals raw, as Velocity does (airspeed, its parent, reads "\\'" as "'"),
but gives Python semantics to the Java String methods a template calls: replaceAll takes Python's
replacement syntax, indexOf raises instead of returning -1, and lastIndexOf, split or trim are missing.
API Gateway runs Velocity 1.7 on Java, so these follow java.lang.String. A Python str method of
the same name wins over this table in airspeed's lookup: split (a regex in Java, a literal here)
is the one whose meaning differs, and the templates of this project do not use it.
"""

from __future__ import annotations

import re
from typing import Any

import airspeed
from airspeed import operators

_JAVA_GROUP = re.compile(r"\\(.)|\$(\d+|\{(\w+)\})", re.S)


def _java_replacement(replacement: str) -> Any:
    r"""Return a re.sub function for a java.util.regex replacement: $1 and ${name} are groups, \x is x."""

    def substitute(match: re.Match[str]) -> str:
        def part(piece: re.Match[str]) -> str:
            if piece.group(1) is not None:
                return piece.group(1)
            group = piece.group(3) or int(piece.group(2))
            return match.group(group) or ""

        return _JAVA_GROUP.sub(part, replacement)

    return substitute


JAVA_STRING_METHODS: dict[str, Any] = {
    "replaceAll": lambda self, pattern, replacement: re.sub(pattern, _java_replacement(replacement), self),
    "replaceFirst": lambda self, pattern, replacement: re.sub(pattern, _java_replacement(replacement), self, count=1),
    "replace": lambda self, target, replacement: self.replace(str(target), str(replacement)),
    "indexOf": lambda self, target, start=0: self.find(str(target), start),
    "lastIndexOf": lambda self, target: self.rfind(str(target)),
    "trim": lambda self: self.strip("".join(map(chr, range(33)))),  # Java trims every char <= U+0020
    "toLowerCase": lambda self: self.lower(),
    "toUpperCase": lambda self: self.upper(),
    "endsWith": lambda self, suffix: self.endswith(suffix),
    "equals": lambda self, other: self == other,
    "isEmpty": lambda self: self == "",
    "charAt": lambda self, index: self[index],
}


def _install() -> None:
    # airspeed looks methods up in this module-level table; extending it is its documented extension point.
    operators.__additional_methods__[str].update(JAVA_STRING_METHODS)


def render(template: str, variables: dict[str, Any]) -> str:
    """Merge a Velocity template with its variables ($input, $util, $context...)."""
    rendered: str = airspeed.Template(template).merge(variables)
    return rendered


_install()
