"""The digest of an order: what a decision says it saw, so that it cannot land on an order it never saw."""

from __future__ import annotations

import hashlib
import json
import re

from controller.core.jsontypes import JSON

DIGEST = re.compile(r"[0-9a-f]{64}")


def order_digest(order: JSON) -> str:
    """Return the SHA-256 (hex) of the order's canonical JSON: keys sorted, no spaces, UTF-8."""
    canonical = json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
