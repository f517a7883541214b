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


# Scripts that one writing system mixes on purpose, so their letters in one name are not a disguise.
SCRIPT_FAMILIES = {"CJK": "HAN", "HIRAGANA": "HAN", "KATAKANA": "HAN", "IDEOGRAPHIC": "HAN"}
MARKLESS_SCRIPTS = {"COMMON", "LATIN", "GREEK", "CYRILLIC"}  # every accented letter of theirs has a composed form


def normalised_name(name: str) -> str:
    """Return a user name in the form it is stored and shown: NFKC (fullwidth letters, ligatures, NFD folded)."""
    return unicodedata.normalize("NFKC", name)


def name_key(name: str) -> str:
    """Return what two user names must differ in: their NFKC form case-folded (Grace, GRACE, fullwidth Grace agree)."""
    return unicodedata.normalize("NFKC", normalised_name(name).casefold())


def _script(character: str) -> str:
    word = unicodedata.name(character, "UNKNOWN").split(" ")[0]
    return SCRIPT_FAMILIES.get(word, word)


def name_problem(name: str) -> str | None:
    """Return why a (normalised) user name could pass for another one, or None when it could not.

    Invisible characters (zero-width, tags, bidi, variation selectors, controls) and letters of two
    scripts in one name ("grace" with a Cyrillic a) make look-alikes of other names.
    """
    base = "COMMON"
    for character in name:
        category = unicodedata.category(character)
        # a mark left over after NFKC on a Latin, Greek or Cyrillic letter has no composed form: a disguise
        disguise = category in ("Mn", "Me") and base in MARKLESS_SCRIPTS
        if disguise or category in ("Cc", "Cf", "Co", "Cn", "Cs") or (category.startswith("Z") and character != " "):
            return f"it holds an invisible or combining character (U+{ord(character):04X})"
        base = _script(character) if category.startswith("L") else "COMMON"
    scripts = sorted({_script(character) for character in name if unicodedata.category(character).startswith("L")})
    if len(scripts) > 1:
        return f"it mixes letters of several scripts ({', '.join(scripts).lower()}), as look-alikes of other names do"
    return None
