"""The shape of JSON, for what the controller reads from and writes to it (orders, bodies, answers)."""

from __future__ import annotations

from typing import TypeAlias

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"  # mypy checks every level
JSONObject: TypeAlias = "dict[str, JSON]"
