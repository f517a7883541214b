"""The states an approval request moves through, named once for the SQL, the views and the page.

pending -> deciding (claimed for one decision) -> approved | rejected;
pending -> expired (the approval timeout passed) | closed (the execution stopped waiting).
"""

from __future__ import annotations

PENDING = "pending"
DECIDING = "deciding"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
CLOSED = "closed"

ALL = (PENDING, DECIDING, APPROVED, REJECTED, EXPIRED, CLOSED)
DECIDED_BY = {"approve": APPROVED, "reject": REJECTED}  # the state each decision ends in
DECIDED = (APPROVED, REJECTED)
ENDED = (APPROVED, REJECTED, EXPIRED, CLOSED)  # nothing moves a request out of these
