"""A valid order, as a client would POST it to /start/workflow."""

from __future__ import annotations

from typing import Any

ITEMS: list[dict[str, Any]] = [
    {"sku": "BOOK-1", "quantity": 2, "unit_price": 12.5},
    {"sku": "PEN-7", "quantity": 1, "unit_price": 3},
]
ORDER: dict[str, Any] = {
    "order_id": "ORD-1001",
    "customer": {"id": "C-42", "name": "Ada Lovelace", "email": "ada@example.org"},
    "items": ITEMS,
}
