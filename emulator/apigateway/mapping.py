"""$input and $util of API Gateway mapping templates, as the API Gateway developer guide defines them.

$input.json and $input.path take a JSONPath; API Gateway's own is Jayway JsonPath, of which the
paths mapping templates use are supported here: $, .name, ['name'] and [index].
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from typing import Any

_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(-?\d+)\s*\]")


def json_path(document: Any, path: str) -> Any:
    """Return the value a simple JSONPath selects, or None when it selects nothing."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"a JSONPath starts with $: {path!r}")
    position, value = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"unsupported JSONPath: {path!r}")
        position = step.end()
        name = next((group for group in step.groups()[:3] if group is not None), None)
        try:
            value = value[name] if name is not None else value[int(step.group(4))]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def to_json(value: Any) -> str:
    """Serialize as API Gateway's JSON output does: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Input:
    """$input: the request's (or, in a response template, the integration response's) body and parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]] | None = None) -> None:
        self.body = body
        self._params = params or {"path": {}, "querystring": {}, "header": {}}
        self._document: Any = ...

    def _parsed(self) -> Any:
        if self._document is ...:
            self._document = json.loads(self.body) if self.body.strip() else {}
        return self._document

    def json(self, path: str) -> str:
        """The JSON text of what the JSONPath selects."""
        return to_json(json_path(self._parsed(), path))

    def path(self, path: str) -> Any:
        """What the JSONPath selects, as an object a template can navigate."""
        return json_path(self._parsed(), path)

    def params(self, name: str | None = None) -> Any:
        """All parameters by location, or one by name: path first, then query string, then header."""
        if name is None:
            return self._params
        for location in ("path", "querystring", "header"):
            if name in self._params[location]:
                return self._params[location][name]
        return None


def escape_javascript(text: str) -> str:
    """$util.escapeJavaScript: Apache Commons Lang 2 StringEscapeUtils.escapeJavaScript, which API Gateway uses."""
    out = []
    for char in str(text):
        code = ord(char)
        if code > 0xFFFF:  # Java strings hold UTF-16: one escape per surrogate
            high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            out.append(f"\\u{high:04X}\\u{low:04X}")
        elif code > 0x7F:
            out.append(f"\\u{code:04X}")
        elif code < 0x20:
            named = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
            out.append(named.get(char, f"\\u{code:04X}"))
        elif char in "'\"\\/":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


class Util:
    """$util, with the method names templates call."""

    escapeJavaScript = staticmethod(escape_javascript)

    @staticmethod
    def parseJson(text: str) -> Any:
        return json.loads(text)

    @staticmethod
    def urlEncode(text: str) -> str:
        # java.net.URLEncoder: a space becomes +, and * - . _ stay as they are
        return urllib.parse.quote_plus(str(text), safe="*-._")

    @staticmethod
    def urlDecode(text: str) -> str:
        return urllib.parse.unquote_plus(str(text))

    @staticmethod
    def base64Encode(text: str) -> str:
        return base64.b64encode(str(text).encode()).decode()

    @staticmethod
    def base64Decode(text: str) -> str:
        return base64.b64decode(str(text)).decode()
