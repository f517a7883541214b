"""Reminders and escalation over real HTTP: short approval timeouts in the emulator, the webhook a local receiver."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from controller.approval import notify
from controller.core import states
from controller.storage.records import Decision, NotificationCounts
from controller.storage.sqlite import SqliteBackend
from harness.controllers import HTTP_TIMEOUT_SECONDS
from harness.orders import ORDER
from harness.policies import LARGE_ORDERS_RULES
from harness.stacks import make_stack
from harness.store_records import at, new_request, tick
from harness.waiting import wait_for
from harness.webhooks import WebhookReceiver

# escalation 10 s after the request, its reminder 16 s after it (8 s before its 24 s expiry): wide enough
# margins for a loaded CI machine, where a request may take a few seconds to be pulled
POLICY = (
    LARGE_ORDERS_RULES
    + """reminders:
  before_expiry: 8s
escalation:
  after: 10s
  groups: [managers]
"""
)
PEOPLE = {"alice": ("finance",), "carol": ("finance",), "dave": ("finance",), "erin": ("managers",), "bob": ("ops",)}
PAGE = "https://approvals.example.com/"


def order_of(total: float) -> dict[str, Any]:
    """An order whose items add up to total, asked for by dave."""
    return {**ORDER, "items": [{"sku": "GPU-1", "quantity": 1, "unit_price": total}], "requested_by": "dave"}


@pytest.fixture
def tokens(tmp_path: Path, store_under_test) -> dict[str, str]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    return {name: store_under_test.add_user(name, groups=groups) for name, groups in PEOPLE.items()}


class People:
    """Calls to one controller (a thread or a process) as each of PEOPLE."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens

    def post(self, who: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return requests.post(self.url + path, json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    def get(self, path: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens['bob']}"}
        return requests.get(self.url + path, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    def request(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/approvals/{name}").json()["request"]
        return found

    def wait_for_state(self, name: str, state: str) -> dict[str, Any]:
        """Wait until the request is in this state (it is not stored before the queue's message is taken)."""

        def reached() -> dict[str, Any] | None:
            answer = self.get(f"/approvals/{name}")
            found: dict[str, Any] | None = answer.json().get("request") if answer.status_code == 200 else None
            return found if found and found["state"] == state else None

        return wait_for(reached, 30, f"request {name} {state}")

    def changes_of(self, name: str) -> list[tuple[str, str]]:
        """Return the /events stream's events for the request from the start of the log, up to its first heartbeat
        (sent once the stream has caught up and gone quiet)."""
        headers = {"Authorization": f"Bearer {self.tokens['bob']}"}
        seen: list[tuple[str, str]] = []
        with requests.get(self.url + "/events?after=0", headers=headers, stream=True, timeout=30) as answer:
            kind = ""
            for line in answer.iter_lines(decode_unicode=True):
                if line.startswith(": still here"):
                    return seen
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and (data := json.loads(line.removeprefix("data: ")))["id"] == name:
                    seen.append((kind, data["state"]))
        return seen

    def wait_for_outbox_empty(self) -> dict[str, int]:
        """Wait until no notification waits to be sent; return the counts."""
        return wait_for(
            lambda: (counts := self.get("/pending").json()["notifications"])["waiting"] == 0 and counts,
            30,
            "every notification delivered",
        )


def kinds_for(webhook: WebhookReceiver, name: str) -> list[str]:
    return sorted(body["kind"] for body in webhook.received if body["request_id"] == name)


def sent(webhook: WebhookReceiver, name: str, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: next((b for b in webhook.received if (b["request_id"], b["kind"]) == (name, kind)), None),
        30,
        f"the {kind} of {name}",
    )
    return found


@pytest.fixture
def short(emulator):
    return make_stack(emulator, approval_timeout_seconds=24)


@pytest.mark.both_stores
def test_one_reminder_and_one_escalation_tell_who_may_still_decide(
    short, controller_factory, tokens, tmp_path, webhook
):
    controller = controller_factory(
        short, POLICY_FILE=str(tmp_path / "policy.yaml"), NOTIFY_WEBHOOK_URL=webhook.url, PUBLIC_URL=PAGE
    )
    people = People(controller.url, tokens)
    name = short.start(order_of(1000))
    people.wait_for_state(name, "pending")
    assert people.post("alice", f"/approve/{name}").json()["state"] == "pending"

    escalation = sent(webhook, name, "escalation")
    reminder = sent(webhook, name, "reminder")
    expired = people.wait_for_state(name, "expired")
    counts = people.wait_for_outbox_empty()

    assert kinds_for(webhook, name) == ["escalation", "new", "reminder"]  # one of each, none after the expiry
    assert escalation["text"].startswith("Escalated: Order ")
    assert "members of managers may decide it too now: erin" in escalation["text"]
    assert reminder["text"].startswith("Reminder: Order ")
    # alice approved already, dave asked for it; erin may decide since the escalation
    assert "Still to decide (1 of 2 approvals so far): members of finance, managers: carol, erin" in reminder["text"]
    assert reminder["text"].endswith(f"Decide: {PAGE}")
    assert (expired["rule"]["escalated"], counts) == (True, {"delivered": 3, "failed": 0, "waiting": 0})


@pytest.mark.both_stores
def test_an_escalation_group_member_may_decide_only_once_it_escalated_and_none_follows_a_decision(
    short, controller_factory, tokens, tmp_path, webhook
):
    controller = controller_factory(short, POLICY_FILE=str(tmp_path / "policy.yaml"), NOTIFY_WEBHOOK_URL=webhook.url)
    people = People(controller.url, tokens)
    name = short.start(order_of(1000))
    people.wait_for_state(name, "pending")

    before = people.post("erin", f"/approve/{name}")
    looked_before = people.request(name)["rule"]
    sent(webhook, name, "escalation")
    looked_after = people.request(name)["rule"]
    page = people.get("/").text
    changes = people.changes_of(name)
    after = people.post("erin", f"/approve/{name}")
    outsider = people.post("bob", f"/approve/{name}")
    last = people.post("carol", f"/approve/{name}")
    witness = short.start(order_of(10))  # stored later: once its reminder is sent, the decided one's time has passed
    sent(webhook, witness, "reminder")
    people.wait_for_outbox_empty()

    assert (before.status_code, before.json()["error"]) == (403, "NotAllowed"), before.text
    assert "only members of finance may decide; erin is in managers" in before.json()["message"]
    assert (looked_before["escalated"], looked_after["escalated"]) == (False, True)
    assert looked_after["summary"] == "large orders: 2 of members of finance, managers"
    assert looked_after["escalate_at"] == looked_before["escalate_at"]
    assert changes == [("stored", "pending"), ("changed", "pending")]  # the escalation, for open pages
    assert f'(escalated <time datetime="{looked_after["escalate_at"]}">' in page
    assert (after.status_code, after.json()["state"]) == (200, "pending"), after.text
    assert outsider.status_code == 403
    assert (last.status_code, last.json()["state"]) == (200, "approved"), last.text
    assert kinds_for(webhook, name) == ["escalation", "new"]  # decided before its reminder's time: none


def test_a_reminder_written_before_a_crash_is_sent_once_after_the_restart(
    emulator, controller_process, tokens, tmp_path, webhook
):
    stack = make_stack(emulator, approval_timeout_seconds=40)
    (tmp_path / "policy.yaml").write_text("rules:\n  - name: anyone\nreminders:\n  before_expiry: 38s\n")
    webhook.failures = 10**6  # every delivery fails until the controller is gone
    settings = {"POLICY_FILE": str(tmp_path / "policy.yaml"), "NOTIFY_WEBHOOK_URL": webhook.url}
    process = controller_process(stack, tmp_path / "approvals.sqlite3", **settings)
    people = People(process.url, tokens)
    name = stack.start(order_of(10))
    people.wait_for_state(name, "pending")
    wait_for(lambda: people.get("/pending").json()["notifications"]["waiting"] == 2, 30, "the reminder in the outbox")

    process.kill()
    webhook.failures = 0
    restarted = controller_process(stack, tmp_path / "approvals.sqlite3", **settings)
    people = People(restarted.url, tokens)
    sent(webhook, name, "reminder")
    counts = people.wait_for_outbox_empty()

    assert kinds_for(webhook, name) == ["new", "reminder"]
    assert counts == {"delivered": 2, "failed": 0, "waiting": 0}
    assert people.request(name)["state"] == "pending"


def test_a_reminder_whose_request_was_decided_while_the_ones_before_it_went_out_is_withdrawn(tmp_path, webhook):
    backend = SqliteBackend(str(tmp_path / "approvals.sqlite3"))
    backend.migrate()
    first, second = (replace(new_request(), remind_at=at(-1)) for _ in range(2))
    with closing(backend.open()) as store:
        for request in (first, second):  # both reminders queued, the first one first: one batch of the outbox
            store.save_request(request, notify=True)
            store.notification_sent(request.id)
            store.take_follow_up(request.id, "reminder", notify=True)
            tick()

        def reject_the_second(_: dict[str, Any]) -> None:  # on another controller, while the first one is sent
            with closing(backend.open()) as elsewhere:
                if elsewhere.claim(second.id, Decision("reject", reason="not needed")):
                    elsewhere.finish(second.id, states.REJECTED, None, from_state=states.DECIDING)

        webhook.meanwhile = reject_the_second
        delivered = notify.send_due(store, webhook.url, PAGE)
        counts = store.notification_counts()

    assert [(body["request_id"], body["kind"]) for body in webhook.received] == [(first.id, "reminder")]
    assert (delivered, counts) == (1, NotificationCounts(delivered=3, failed=0, waiting=0))


def test_a_reminder_whose_request_is_past_its_expiry_is_withdrawn_before_the_upkeep_marks_it_expired(tmp_path, webhook):
    backend = SqliteBackend(str(tmp_path / "approvals.sqlite3"))
    backend.migrate()
    late = replace(new_request(expires_in=-1), remind_at=at(-2))
    with closing(backend.open()) as store:
        store.save_request(late, notify=True)
        store.notification_sent(late.id)
        store.take_follow_up(late.id, "reminder", notify=True)  # still pending: the upkeep has not expired it yet

        delivered = notify.send_due(store, webhook.url, PAGE)
        counts = store.notification_counts()
        state = store.get_request(late.id).state

    assert (delivered, webhook.received, state) == (0, [], states.PENDING)
    assert counts == NotificationCounts(delivered=1, failed=0, waiting=0)
