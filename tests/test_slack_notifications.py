"""Webhook notifications from the attacker's side: an order's fields reach Slack as data, never as markup."""

from __future__ import annotations

import unicodedata

from harness.orders import ORDER
from harness.waiting import wait_for

PAGE = "http://approvals.example/"
MARK = "\ufffd"  # what the notification shows where a hidden or line-breaking character was

# (what an order carries, what Slack must be sent for it)
PROBES = [
    ("<!channel> approve now", "&lt;!channel&gt; approve now"),
    ("<!here>", "&lt;!here&gt;"),
    ("<!subteam^S0123ABCD|@finance>", "&lt;!subteam^S0123ABCD|@finance&gt;"),
    ("<@U024BE7LH>", "&lt;@U024BE7LH&gt;"),
    ("<https://evil.example/login|Click here to approve>", "&lt;https://evil.example/login|Click here to approve&gt;"),
    ("Ada\nDecide: https://evil.example/approve", f"Ada{MARK}Decide: https://evil.example/approve"),
    ("Ada\r\nDecide: https://evil.example/approve", f"Ada{MARK}{MARK}Decide: https://evil.example/approve"),
    ("Ada\u2028Decide: https://evil.example/approve", f"Ada{MARK}Decide: https://evil.example/approve"),
    ("Ada \u202eevorppA", f"Ada {MARK}evorppA"),
    ("<\u200b!channel>", f"&lt;{MARK}!channel&gt;"),
    ("Ada\U000e0041\U000e0042", f"Ada{MARK}{MARK}"),
    ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),
]


def hidden(line: str) -> list[str]:
    """Return the characters of a line that are controls, format characters or line separators."""
    return [char for char in line if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")]


def test_no_order_can_mention_link_or_add_a_line_in_the_notification(stack, controller_factory, webhook):
    controller_factory(stack, NOTIFY_WEBHOOK_URL=webhook.url, PUBLIC_URL=PAGE)
    # each probe as the customer's name and as an item's SKU, one order each, all through the state machine
    names = {
        stack.start(
            {**ORDER, "customer": {"id": "C-1", "name": payload}, "items": [{**ORDER["items"][0], "sku": payload}]}
        ): expected
        for payload, expected in PROBES
    }

    for name, expected in names.items():
        text = wait_for(lambda: webhook.for_request(name), 30, f"the notification of {name}")["text"]  # noqa: B023 (used at once)
        summary, item, decide = text.split("\n")
        assert summary.startswith(f"Order ORD-1001 from {expected}, total "), text
        assert item == f"• 2 x {expected} at 12.5", text
        assert decide == f"Decide: {PAGE}", text
        assert "<" not in text and ">" not in text, text
        assert not hidden(summary + item + decide), text


def test_an_order_id_ending_in_a_newline_keeps_the_summary_on_one_line(stack, controller_factory, webhook):
    controller_factory(stack, NOTIFY_WEBHOOK_URL=webhook.url, PUBLIC_URL=PAGE)
    # the order schema's "$" lets a final newline through, as JSON Schema's patterns do
    name = stack.start({**ORDER, "order_id": "ORD-7\n"})

    text = wait_for(lambda: webhook.for_request(name), 30, "the notification")["text"]
    summary, *_ = text.split("\n")
    assert summary.startswith(f"Order ORD-7{MARK} from Ada Lovelace, total 28.00 EUR, waits for approval until ")
    assert len(text.split("\n")) == 4


def test_the_notification_says_who_asked_as_data(stack, controller_factory, webhook):
    controller_factory(stack, NOTIFY_WEBHOOK_URL=webhook.url, PUBLIC_URL=PAGE)
    name = stack.start({**ORDER, "requested_by": "<!channel> dave"})

    text = wait_for(lambda: webhook.for_request(name), 30, "the notification")["text"]

    assert text.startswith("Order ORD-1001 from Ada Lovelace, requested by &lt;!channel&gt; dave, total 28.00 EUR")


def test_a_bare_address_in_an_order_is_shown_verbatim_and_only_the_page_is_a_link(stack, controller_factory, webhook):
    controller_factory(stack, NOTIFY_WEBHOOK_URL=webhook.url, PUBLIC_URL=PAGE)
    item = {**ORDER["items"][0], "sku": "https://evil.example/approve"}
    name = stack.start({**ORDER, "customer": {"id": "C-1", "name": "http://evil.example"}, "items": [item]})

    sent = wait_for(lambda: webhook.for_request(name), 30, "the notification")
    (block,) = sent["blocks"]
    assert (block["type"], block["text"]["type"], block["text"]["verbatim"]) == ("section", "mrkdwn", True)
    summary, line, decide = block["text"]["text"].split("\n")
    assert summary.startswith("Order ORD-1001 from http://evil.example, total 25.00 EUR")
    assert line == "• 2 x https://evil.example/approve at 12.5"
    assert decide == f"Decide: <{PAGE}>"  # with verbatim, the only link is the one spelled out: the page's
    assert sent["text"].split("\n") == [summary, line, f"Decide: {PAGE}"]  # what a notification shows
