"""An AWS endpoint that hangs and clients that crawl: the controller keeps answering what needs neither.

The emulator is stopped with SIGSTOP (a black hole: connections are accepted, nothing answers),
then continued; slow clients are raw sockets that send half a request and wait.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from harness.emulator import hung
from harness.proxy import half_requests
from harness.waiting import wait_for

ANSWER_SECONDS = 5  # what "answers" means here: far more than a free thread needs, far less than an AWS hang
PROBE_SECONDS = 15  # how long the hang is probed; every AWS call that started in it has timed out by then


def keep_loading(url: str, stop: threading.Event) -> int:
    """Load a page that needs AWS until told to stop; return how many answers came (each may take long)."""
    answers = 0
    with requests.Session() as session:
        while not stop.is_set():
            session.get(url, timeout=120)
            answers += 1
    return answers


def test_while_aws_hangs_health_sign_in_and_stored_requests_answer_and_a_decision_gets_503(stack, controller_factory):
    controller = controller_factory(stack, CLAIM_STALE_SECONDS=2)
    name = stack.start()
    controller.wait_for_pending(name)
    stop = threading.Event()

    with hung(stack.emulator), ThreadPoolExecutor(10) as readers:
        loading = [readers.submit(keep_loading, controller.url + "/", stop) for _ in range(10)]
        probes = []
        deadline = time.monotonic() + PROBE_SECONDS
        while time.monotonic() < deadline:  # every probe must answer, none may time out
            probes.append(requests.get(controller.url + "/health", timeout=ANSWER_SECONDS).status_code)
            probes.append(requests.get(controller.url + "/signin", timeout=ANSWER_SECONDS).status_code)
        listing = requests.get(controller.url + "/pending", timeout=ANSWER_SECONDS)
        decided = requests.post(f"{controller.url}/approve/{name}", timeout=30)
        stop.set()
    assert all(future.result() >= 0 for future in loading)

    assert set(probes) == {200}
    assert listing.status_code == 200 and [r["id"] for r in listing.json()["pending"]] == [name]
    assert "AWS" in " ".join(listing.json()["warnings"])
    assert (decided.status_code, decided.json()["error"]) == (503, "AwsUnavailable")
    # nothing is lost: once AWS answers again the request is still pending, or its decision went through
    state = wait_for(
        lambda: (s := controller.get(f"/approvals/{name}").json()["request"]["state"]) in ("pending", "approved") and s,
        60,
        "the request to settle",
    )
    if state == "pending":
        assert controller.post(f"/approve/{name}").status_code == 200
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_a_hundred_and_twenty_slow_connections_leave_normal_requests_answered(controller):
    slow = half_requests(controller.url, 120)
    try:
        answers = [requests.get(controller.url + "/health", timeout=ANSWER_SECONDS).status_code for _ in range(5)]
        listing = requests.get(controller.url + "/pending", timeout=ANSWER_SECONDS)
    finally:
        for connection in slow:
            connection.close()

    assert answers == [200] * 5 and listing.status_code == 200


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(stack, controller_factory):
    controller = controller_factory(stack, IDLE_TIMEOUT_SECONDS=1)
    (connection,) = half_requests(controller.url, 1)
    connection.settimeout(15)  # a socket.timeout fails the test: the connection was kept open
    try:
        sent = connection.recv(1024)
    finally:
        connection.close()

    assert sent == b""  # closed by the server, without an answer


def test_waitress_queue_warnings_are_held_back_under_load(stack, controller_factory, caplog):
    controller = controller_factory(stack, THREADS=2)

    with caplog.at_level(logging.WARNING, logger="waitress.queue"), ThreadPoolExecutor(40) as callers:
        answers = list(
            callers.map(lambda _: requests.get(controller.url + "/health", timeout=30).status_code, range(400))
        )

    assert set(answers) == {200}
    assert len([record for record in caplog.records if record.name == "waitress.queue"]) <= 1
