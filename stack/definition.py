"""The stack's names and settings (stack.json) and the state machine template, as Terraform reads them."""

from __future__ import annotations

import json
import re
from typing import Any

from stack.paths import STACK_FILE

_PLACEHOLDER = re.compile(r"(\$\$\{)|\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}|(%\{)")


class TemplateError(ValueError):
    """The template uses a placeholder or directive that was not supplied."""


def load_stack() -> dict[str, Any]:
    """Return stack.json, the settings Terraform and the emulator both deploy."""
    stack: dict[str, Any] = json.loads(STACK_FILE.read_text())
    return stack


def resource_name(stack: dict[str, Any], key: str, prefix: str | None = None) -> str:
    """Return the deployed name of a resource, as Terraform builds it."""
    return f"{prefix or stack['name_prefix']}-{stack['names'][key]}"


def template_placeholders(text: str) -> set[str]:
    """Return the names of the `${...}` placeholders in a Terraform template."""
    return {m.group(2) for m in _PLACEHOLDER.finditer(text) if m.group(2)}


def render_template(text: str, variables: dict[str, Any]) -> str:
    """Fill a template the way Terraform's templatefile() does for plain interpolations."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return "${"
        if match.group(3):
            raise TemplateError("template directives (%{...}) are not supported here")
        name = match.group(2)
        if name not in variables:
            raise TemplateError(f"the template needs a value for '{name}'")
        value = variables[name]
        return value if isinstance(value, str) else json.dumps(value)

    return _PLACEHOLDER.sub(substitute, text)
