"""Tells approvers that a request waits: a webhook POST per new request, and under a rule its reminder
and escalation (follow_ups.py), in the JSON shape that Slack-compatible incoming webhooks accept.
Never the task token; retried with backoff, and a notification that keeps failing is recorded as
failed, logged and counted, never dropped unseen.

Whoever submits an order writes its fields, so each one is sent as data, not markup: escaped as
Slack asks (&, <, > as entities: no mention, no link of its own label), kept on its line, and shown
in a verbatim section, so that Slack links no bare address in it either.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from controller.approval import follow_ups
from controller.approval.follow_ups import Deciders
from controller.core import states, text
from controller.core.jsontypes import JSONObject
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest, DueNotification, NotificationKind

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
TIMEOUT_SECONDS = 10
CLAIM_SECONDS = 3 * TIMEOUT_SECONDS  # a notification being sent is no other sender's for this long
BATCH = 20
HEADLINES: dict[NotificationKind, str] = {"new": "", "reminder": "Reminder: ", "escalation": "Escalated: "}
SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})  # the only three Slack asks for
SECTION_LIMIT = 3000  # the most text a Block Kit section takes; Slack refuses the whole message beyond it


def field(value: object) -> str:
    """Return a value from the order as Slack text that reads as written: one line, no markup."""
    return text.one_line(str(value)).translate(SLACK_ESCAPES)


def message(
    request: ApprovalRequest, page_url: str, kind: NotificationKind = "new", deciders: Deciders | None = None
) -> JSONObject:
    """Return the webhook body for a stored request: a one-paragraph summary, for a reminder or an escalation who
    may decide it now, and a link to the page."""
    order, items = request.order, request.order.get("items")
    lines = [
        f"• {field(item.get('quantity'))} x {field(item.get('sku'))} at {field(item.get('unit_price'))}"
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    total, customer = order.get("total"), order.get("customer")
    name = customer.get("name", "an unknown customer") if isinstance(customer, dict) else "an unknown customer"
    summary = (
        HEADLINES[kind]
        + f"Order {field(order.get('order_id', request.id))} from {field(name)}"
        + (f", requested by {field(order['requested_by'])}" if isinstance(order.get("requested_by"), str) else "")
        + (
            f", total {total:.2f} {field(order.get('currency', ''))}".rstrip()
            if isinstance(total, (int, float))
            else ""
        )
        + f", waits for approval until {request.expires_at}."
    )
    lines = lines[:10]
    told = [] if deciders is None else [_deciders_line(request, kind, deciders)]
    decide = f"Decide: <{page_url.translate(SLACK_ESCAPES)}>"  # the one link, spelled out: verbatim links nothing
    while len("\n".join([summary, *lines, *told, decide])) > SECTION_LIMIT and lines:
        lines = [*lines[:-2], "• … more items on the page"] if len(lines) > 1 else []
    room = SECTION_LIMIT - len("\n".join([summary, *lines, decide])) - 1
    told = [line if len(line) <= room else line[: max(room - 1, 0)] + "…" for line in told]  # a long list of names
    return {
        # what a phone's notification and a client without blocks show
        "text": "\n".join([summary, *lines, *told, f"Decide: {page_url}"]),
        # what the channel shows: verbatim, so Slack turns no bare address (http://evil.example as a customer's
        # name), #channel or @name in an order into a link or a mention
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join([summary, *lines, *told, decide]), "verbatim": True},
            }
        ],
        # no previews: Slack would otherwise draw one for an address an order carries
        "unfurl_links": False,
        "unfurl_media": False,
        "request_id": request.id,
        "kind": kind,
    }


def _deciders_line(request: ApprovalRequest, kind: NotificationKind, deciders: Deciders) -> str:
    names = ", ".join(field(name) for name in deciders.names) or "none of them is a user yet"
    if kind == "escalation":
        return f"Waiting since {request.requested_at}; {field(deciders.words)} may decide it too now: {names}"
    progress = f"{deciders.approved} of {deciders.required} approvals so far"
    return f"Still to decide ({progress}): {field(deciders.words)}: {names}"


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
    record would be sent again once it recovers. Each one is claimed before it is sent, so that of
    several controllers reading one outbox one sends it (again after CLAIM_SECONDS if that one died).
    A reminder or an escalation is sent only if its request, read again right before, still waits:
    the batch was read before the posts ahead of it, and a decision may have come meanwhile.
    """
    store.check_writable()
    delivered = 0
    for due in store.due_notifications(BATCH):
        if not store.claim_notification(due.request.id, due.kind, CLAIM_SECONDS):
            continue  # another sender has it, or it was delivered or withdrawn since the batch was read
        request = due.request if due.kind == "new" else _still_waiting(store, due)
        if request is not None:
            delivered += _deliver(store, webhook_url, page_url, request, due)
    return delivered


def _still_waiting(store: Store, due: DueNotification) -> ApprovalRequest | None:
    """Return a follow-up's request, read again now, if it still waits for a decision; withdraw the follow-up if the
    request ended (never sent after), leave it while a decision is under way (sent if that falls through)."""
    request = store.get_request(due.request.id)
    if request is None or follow_ups.has_ended(request):
        store.withdraw_notification(due.request.id, due.kind)
        return None
    return request if request.state == states.PENDING else None


def _deliver(store: Store, webhook_url: str, page_url: str, request: ApprovalRequest, due: DueNotification) -> int:
    """POST one notification and record how it went; return 1 if it was delivered."""
    kind = due.kind
    try:
        deciders = None if kind == "new" else follow_ups.still_to_decide(store, request, kind)
        _post(webhook_url, message(request, page_url, kind, deciders))
    except Exception as error:  # a bad order or answer fails this one notification, not those behind it
        attempts = due.attempts + 1
        retry = backoff(attempts) if attempts < MAX_ATTEMPTS else None
        store.notification_failed(request.id, str(error)[:500], retry, kind)
        if retry is None:
            log.error("%s notification for %s failed for good after %d attempts: %s", kind, request.id, attempts, error)
        else:
            log.warning(
                "%s notification for %s failed (attempt %d), retrying in %.0f s", kind, request.id, attempts, retry
            )
        return 0
    store.notification_sent(request.id, kind)
    return 1
