"""Characters that change how text reads without being seen: bidi overrides and control characters.

An order's fields come from whoever posted the order, so "lun\u202eRTL" could read reversed on the
page. Where such text is shown it is neutralised; where it would be recorded (a decision's fields,
a user's name) it is refused. Text that must stay on one line (a field in a chat message) loses
line breaks, zero-width and tag characters too.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup

# C0 controls but tab and newline, DEL, C1 controls; the bidi embeddings, overrides, isolates and marks
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"  # the Unicode replacement character: the reader sees that something was there


def has_hidden(text: str) -> bool:
    """Return whether text holds a control or bidi formatting character."""
    return HIDDEN.search(text) is not None


def neutralised(value: object) -> object:
    """Return text with its hidden characters replaced by a visible mark; other values as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return HIDDEN.sub(REPLACEMENT, value)
    return value


# controls (newline and tab too), format characters (bidi, zero-width, tags, soft hyphen) and the
# line and paragraph separators: none of them may start a line or hide text within one
INLINE_UNSAFE = ("Cc", "Cf", "Zl", "Zp")


def one_line(text: str) -> str:
    """Return text with every character that could break a line or hide text shown as a visible mark."""
    return "".join(REPLACEMENT if unicodedata.category(char) in INLINE_UNSAFE else char for char in text)
