"""Live approvals: the background pull, the /events stream, bulk decisions and webhook notifications."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from harness import peek
from harness.waiting import wait_for
from harness.webhooks import WebhookReceiver


def test_the_background_pull_stores_a_request_before_anyone_asks(stack, controller):
    name = stack.start()

    wait_for(
        lambda: peek.query(controller.app.config["DATABASE"], "SELECT id FROM approval_requests WHERE id = ?", (name,)),
        15,
        "the request to be stored",
    )
    wait_for(lambda: stack.queue_depth() == 0, 15, "the message to be deleted from the queue")


def test_pending_never_waits_for_sqs_even_with_a_long_background_poll(stack, controller_factory):
    controller = controller_factory(stack, PULL_WAIT_SECONDS=20)

    for _ in range(3):  # each would take 20 s if /pending long-polled as the background does
        assert requests.get(controller.url + "/pending", timeout=5).json()["count"] == 0


def test_the_event_stream_announces_a_stored_request_and_its_decision(stack, controller, listen):
    listener = listen(controller.url)
    name = stack.start()

    wait_for(lambda: listener.seen("stored", name), 15, "the stored event")
    assert controller.post(f"/approve/{name}").status_code == 200
    wait_for(lambda: listener.seen("changed", name) and listener.events[-1][2]["state"] == "approved", 15, "approved")

    ids = [event_id for event_id, _, _ in listener.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [data["state"] for _, _, data in listener.events if data["id"] == name] == [
        "pending",
        "deciding",
        "approved",
    ]


def test_a_reconnecting_page_gets_what_it_missed_from_its_last_event_id(stack, controller, listen):
    first = listen(controller.url)
    name = stack.start()
    wait_for(lambda: first.seen("stored", name), 15, "the stored event")
    last_seen = str(first.events[-1][0])
    first.close()
    assert controller.post(f"/reject/{name}", {"reason": "No."}).status_code == 200

    again = listen(controller.url, last_event_id=last_seen)

    wait_for(lambda: again.seen("changed", name) and again.events[-1][2]["state"] == "rejected", 15, "the catch-up")
    assert [data["state"] for _, _, data in again.events] == ["deciding", "rejected"]


def test_a_malformed_last_event_id_gets_400(controller):
    response = requests.get(controller.url + "/events", headers={"Last-Event-ID": "²"}, timeout=10)

    assert (response.status_code, response.json()["error"]) == (400, "InvalidInput")


def test_a_bulk_approval_answers_for_every_id_with_the_single_routes_codes(stack, controller):
    names = [stack.start() for _ in range(4)]
    for name in names:
        controller.wait_for_pending(name)
    assert controller.post(f"/approve/{names[0]}").status_code == 200

    answer = controller.post("/approve", {"ids": [*names, "no-such-request"], "approver": "Grace"})

    assert answer.status_code == 200
    outcomes = {outcome["id"]: outcome for outcome in answer.json()["results"]}
    assert [outcome["id"] for outcome in answer.json()["results"]] == [*names, "no-such-request"]
    assert (outcomes[names[0]]["status"], outcomes[names[0]]["error"]) == (409, "AlreadyDecided")
    assert (outcomes["no-such-request"]["status"], outcomes["no-such-request"]["error"]) == (404, "RequestNotFound")
    assert (answer.json()["decided"], answer.json()["refused"]) == (3, 2)
    for name in names[1:]:
        assert outcomes[name]["status"] == 200
        assert outcomes[name]["request"]["approver"] == "Grace"
        assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_a_bulk_rejection_carries_the_reason_and_refuses_an_expired_request(expired_request):
    stack, controller = expired_request.stack, expired_request.controller
    waiting = stack.start()
    controller.wait_for_pending(waiting)

    answer = controller.post("/reject", {"ids": [expired_request.name, waiting], "reason": "Out of stock."})

    first, second = answer.json()["results"]
    assert (first["status"], first["error"]) == (410, "RequestExpired")
    assert second["status"] == 200
    assert stack.wait_until_finished(waiting)["cause"] == "Out of stock."


@pytest.mark.parametrize(
    "ids",
    [[], "one-id", [1], [""], ["a", "a"], [f"id-{n}" for n in range(101)], ["x" * 81]],
    ids=["empty", "not-a-list", "not-text", "blank", "repeated", "over-100", "too-long"],
)
def test_bulk_ids_that_are_not_1_to_100_distinct_ids_get_400_and_decide_nothing(stack, controller, ids):
    name = stack.start()
    controller.wait_for_pending(name)

    refused = controller.post("/approve", {"ids": ids})

    assert (refused.status_code, refused.json()["error"]) == (400, "InvalidInput")
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


def test_concurrent_bulk_approvals_of_the_same_requests_decide_each_once(stack, controller):
    names = [stack.start() for _ in range(5)]
    for name in names:
        controller.wait_for_pending(name)
    answers: list[requests.Response] = []
    callers = [
        threading.Thread(target=lambda: answers.append(controller.post("/approve", {"ids": names}))) for _ in range(3)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    statuses = [outcome["status"] for answer in answers for outcome in answer.json()["results"]]
    assert statuses.count(200) == len(names)
    assert set(statuses) == {200, 409}
    sfn = stack.emulator.client("stepfunctions")
    for name in names:
        history = sfn.get_execution_history(executionArn=stack.execution_arn(name))["events"]
        approvals = [e for e in history if e.get("taskSucceededEventDetails", {}).get("resourceType") == "sqs"]
        assert len(approvals) == 1


def test_bulk_decisions_leave_no_database_connection_open(stack, controller_factory):
    controller = controller_factory(stack, BACKGROUND=False)  # no worker loops holding connections of their own
    database = controller.app.config["DATABASE"]
    names = [stack.start() for _ in range(2)]
    for name in names:
        controller.wait_for_pending(name)
    before = peek.open_connections(database)

    answers = [
        controller.post("/approve", {"ids": [*names, *(f"gone-{call}-{n}" for n in range(7))]}) for call in range(20)
    ]

    assert [answer.json()["decided"] for answer in answers] == [2] + [0] * 19
    assert peek.open_connections(database) == before == 0


def test_a_stopped_controller_closes_every_database_connection(stack, controller_factory):
    controller = controller_factory(stack)  # with its background loops
    database = controller.app.config["DATABASE"]
    controller.wait_for_pending(stack.start())
    assert peek.open_connections(database) > 0

    controller.stop()

    wait_for(lambda: peek.open_connections(database) == 0, 15, "the worker loops to close their connections")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver(failures=2)
    yield started
    started.stop()


def test_a_new_request_is_notified_once_with_its_summary_and_a_link_but_never_its_token(
    stack, controller_factory, receiver
):
    controller = controller_factory(stack, NOTIFY_WEBHOOK_URL=receiver.url, PUBLIC_URL="http://approvals.local/")
    name = stack.start()
    controller.wait_for_pending(name)

    wait_for(lambda: receiver.received, 30, "the notification, after two refused attempts")
    (token,) = peek.task_tokens(controller.app.config["DATABASE"])
    (sent,) = receiver.received
    assert sent["request_id"] == name
    assert "Order ORD-1001 from Ada Lovelace, total 28.00 EUR" in sent["text"]
    assert "2 x BOOK-1 at 12.5" in sent["text"] and "http://approvals.local/" in sent["text"]
    assert token not in json.dumps(sent)
    counts = controller.get("/pending").json()["notifications"]
    assert counts == {"delivered": 1, "failed": 0, "waiting": 0}


def test_a_webhook_that_never_answers_is_counted_as_failed_and_the_pull_goes_on(stack, controller_factory, monkeypatch):
    monkeypatch.setattr("controller.approval.notify.MAX_ATTEMPTS", 2)
    monkeypatch.setattr("controller.approval.notify.BACKOFF_BASE_SECONDS", 0.1)
    controller = controller_factory(stack, NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/nobody-listens")
    first, second = stack.start(), stack.start()

    controller.wait_for_pending(first)
    controller.wait_for_pending(second)
    counts = wait_for(
        lambda: (c := controller.get("/pending").json()["notifications"])["failed"] == 2 and c, 30, "both to fail"
    )
    assert counts == {"delivered": 0, "failed": 2, "waiting": 0}


def test_past_its_share_of_the_servers_threads_another_event_stream_gets_503(stack, controller_factory, listen):
    controller = controller_factory(stack, THREADS=2)  # room for one stream
    first = listen(controller.url)
    name = stack.start()
    wait_for(lambda: first.seen("stored", name), 15, "the first stream to work")

    second = requests.get(controller.url + "/events", timeout=10)

    assert (second.status_code, second.json()["error"]) == (503, "TooManyStreams")
    assert controller.get("/pending").status_code == 200  # the other thread still serves


def open_stream(url: str, source: str = "127.0.0.1") -> tuple[str, socket.socket]:
    """Open /events from a local address over a raw socket; return the status line and the open socket."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=30, source_address=(source, 0))
    connection.sendall(f"GET /events HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    status = connection.recv(4096).split(b"\r\n", 1)[0].decode()
    return status, connection


def test_one_caller_cannot_hold_every_event_stream_and_a_gone_client_frees_its_own_within_seconds(controller):
    # 8 threads: 4 may wait on AWS, 3 stream (2 per caller; in local mode a caller is an address), 1 stays free
    first, held = open_stream(controller.url)
    second, kept = open_stream(controller.url)
    third, refused = open_stream(controller.url)
    other, elsewhere = open_stream(controller.url, "127.0.0.2")
    fourth, over = open_stream(controller.url, "127.0.0.3")
    for connection in (kept, refused, elsewhere, over):
        connection.close()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    held.close()  # gone without a word: a reset, as when a laptop lid closes

    def reopened() -> socket.socket | None:
        status, connection = open_stream(controller.url)
        if "200" in status:
            return connection
        connection.close()
        return None

    wait_for(reopened, 10, "the gone client's stream slot to be freed").close()

    assert [status.split(" ")[1] for status in (first, second, third, other, fourth)] == [
        "200",
        "200",
        "503",
        "200",
        "503",
    ]
