"""The Slack message of a request on its own: the section the channel shows stays within what Slack takes."""

from __future__ import annotations

from controller.approval import notify
from controller.storage.records import ApprovalRequest
from harness.orders import ORDER

PAGE = "http://approvals.example/"


def request_of(order: dict[str, object]) -> ApprovalRequest:
    when = "2026-12-01T10:00:00Z"
    return ApprovalRequest(
        **dict.fromkeys(("id", "execution_arn", "task_token"), "exec-1"),
        order=order,
        **dict.fromkeys(("requested_at", "expires_at", "received_at", "checked_at"), when),
        state="pending",
        **dict.fromkeys(("decision", "decided_at", "closed_reason", "claimed_at", "final_execution")),
    )


def test_the_largest_order_the_schema_allows_fits_one_section_and_keeps_its_link():
    # every field at its longest and made of "&", which Slack's escaping makes five characters each
    items = [{"sku": "&" * 64, "quantity": 10_000, "unit_price": 1_000_000} for _ in range(10)]
    customer = {"id": "C-1", "name": "&" * 200}
    order = {**ORDER, "customer": customer, "items": items, "requested_by": "&" * 100, "total": 1e11}

    message = notify.message(request_of(order), PAGE)

    shown = message["blocks"][0]["text"]["text"]
    assert len(shown) <= notify.SECTION_LIMIT
    assert shown.startswith("Order ORD-1001 from " + "&amp;" * 200)
    assert shown.endswith(f"• … more items on the page\nDecide: <{PAGE}>")
    assert message["text"].endswith(f"• … more items on the page\nDecide: {PAGE}")


def test_an_order_that_fits_is_shown_whole():
    shown = notify.message(request_of({**ORDER, "total": 28.0}), PAGE)["blocks"][0]["text"]["text"]

    assert shown.split("\n")[1:] == ["• 2 x BOOK-1 at 12.5", "• 1 x PEN-7 at 3", f"Decide: <{PAGE}>"]
