"""Tells approvers that a request waits: a webhook POST per new request, in the JSON shape that
Slack-compatible incoming webhooks accept. Never the task token; retried with backoff, and a
notification that keeps failing is recorded as failed, logged and counted, never dropped unseen.

Whoever submits an order writes its fields, so each one is sent as data, not markup: escaped as
Slack asks (&, <, > as entities: no mention, no link of its own label) and kept on its line.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from controller.core import text
from controller.core.jsontypes import JSONObject
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
TIMEOUT_SECONDS = 10
BATCH = 20
SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})  # the only three Slack asks for


def field(value: object) -> str:
    """Return a value from the order as Slack text that reads as written: one line, no markup."""
    return text.one_line(str(value)).translate(SLACK_ESCAPES)


def message(request: ApprovalRequest, page_url: str) -> JSONObject:
    """Return the webhook body for a stored request: a one-paragraph summary and a link to the page."""
    order, items = request.order, request.order.get("items")
    lines = [
        f"• {field(item.get('quantity'))} x {field(item.get('sku'))} at {field(item.get('unit_price'))}"
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    total, customer = order.get("total"), order.get("customer")
    name = customer.get("name", "an unknown customer") if isinstance(customer, dict) else "an unknown customer"
    summary = (
        f"Order {field(order.get('order_id', request.id))} from {field(name)}"
        + (f", requested by {field(order['requested_by'])}" if isinstance(order.get("requested_by"), str) else "")
        + (
            f", total {total:.2f} {field(order.get('currency', ''))}".rstrip()
            if isinstance(total, (int, float))
            else ""
        )
        + f", waits for approval until {request.expires_at}."
    )
    body = "\n".join([summary, *lines[:10], f"Decide: {page_url}"])
    # no previews: Slack would otherwise draw one for a bare address an order carries
    return {"text": body, "unfurl_links": False, "unfurl_media": False, "request_id": request.id}


def backoff(attempts: int) -> float:
    """Return the wait before the next attempt, after `attempts` failed ones."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))


def _post(url: str, body: JSONObject) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
        answer.read()


def send_due(store: Store, webhook_url: str, page_url: str) -> int:
    """Send the notifications that are due; return how many were delivered.

    Nothing is sent while the store cannot be written (StoreUnavailable): a delivery it could not
    record would be sent again once it recovers.
    """
    store.check_writable()
    delivered = 0
    for due in store.due_notifications(BATCH):
        request_id = due.request.id
        try:
            _post(webhook_url, message(due.request, page_url))
        except Exception as error:  # a bad order or answer fails this one notification, not those behind it
            attempts = due.attempts + 1
            retry = backoff(attempts) if attempts < MAX_ATTEMPTS else None
            store.notification_failed(request_id, str(error)[:500], retry)
            if retry is None:
                log.error("notification for %s failed for good after %d attempts: %s", request_id, attempts, error)
            else:
                log.warning("notification for %s failed (attempt %d), retrying in %.0f s", request_id, attempts, retry)
            continue
        store.notification_sent(request_id)
        delivered += 1
    return delivered
