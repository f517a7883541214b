"""Several controllers on one DynamoDB table, over real HTTP: a request decided on two of them at once is
decided once; each one's /events shows the others' changes, and a stream resumes on any of them; and
DynamoDB being unreachable refuses decisions with a 503 and loses nothing.

Each test has its own table and its own queue and state machine, in the session's emulator. The crash
soak with controller processes is tests/test_shared_store_crashes.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from controller.storage.context import backend_of
from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.records import Decision, now
from harness.controllers import ServedController, add_user_to, controller_config
from harness.emulator import Emulator
from harness.fault_proxy import HANG, REFUSE, FaultProxy
from harness.orders import ORDER
from harness.stacks import Stack, make_stack
from harness.tables import SHARED_SECRET, dynamodb_settings
from harness.together import at_the_same_moment
from harness.waiting import wait_for

RACES = 20  # requests, each decided on two controllers at the same moment
OUTAGE_ORDERS = 3  # orders that arrive while DynamoDB cannot be reached
HUNG_ASKS = 5  # decisions asked for once a hung table is noted
ANSWER = {"approve": "TaskSucceeded", "reject": "TaskFailed"}
STATUS = {"approve": "SUCCEEDED", "reject": "FAILED"}


@pytest.fixture
def team(emulator: Emulator, tmp_path: Path) -> Iterator[Callable[..., list[ServedController]]]:
    """Start `count` controllers in threads for a stack, all on one new table, each calling with the token of
    Grace, an approver added to that table; stop them after. Overrides go to every controller's config."""
    started: list[ServedController] = []

    def start(stack: Stack, count: int, **overrides: Any) -> list[ServedController]:
        settings = dynamodb_settings(emulator)  # a new table
        token = add_user_to(DynamoDbBackend(emulator.client("dynamodb"), settings["DYNAMODB_TABLE"]), "Grace")
        for _ in range(count):
            database = tmp_path / f"controller-{len(started)}.sqlite3"  # each its own, though the table holds all
            config = controller_config(emulator, stack.queue_url, database, **settings, **overrides)
            started.append(ServedController(config, token))
        return started[-count:]

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def fault_proxy(emulator: Emulator) -> Iterator[FaultProxy]:
    proxy = FaultProxy(emulator.outputs["aws_endpoint_url"])
    yield proxy
    proxy.close()


def test_a_request_decided_on_two_controllers_at_once_gets_one_200_and_one_409_every_time(stack, team):
    first, second = team(stack, 2)
    names = [stack.start({**ORDER, "order_id": f"ORD-{i}"}) for i in range(RACES)]
    for name in names:
        first.wait_for_pending(name)
        second.wait_for_pending(name)
    winners = {}

    for index, name in enumerate(names):
        approving, rejecting = (first, second) if index % 2 else (second, first)  # each side on each controller

        approved, rejected = at_the_same_moment(
            lambda: approving.post(f"/approve/{name}"),  # noqa: B023 (called before the loop moves on)
            lambda: rejecting.post(f"/reject/{name}", {"reason": "No."}),  # noqa: B023
        )

        statuses = {"approve": approved, "reject": rejected}
        shown = {action: (answer.status_code, answer.text) for action, answer in statuses.items()}
        assert sorted(answer.status_code for answer in statuses.values()) == [200, 409], shown
        (winners[name],) = [action for action, answer in statuses.items() if answer.status_code == 200]
        (refused,) = [answer.json() for answer in statuses.values() if answer.status_code == 409]
        assert refused["error"] == "AlreadyDecided", shown

    for name, action in winners.items():
        assert stack.wait_until_finished(name)["status"] == STATUS[action], name
        assert stack.approval_answers(name) == [ANSWER[action]], name


def test_a_decision_on_one_controller_reaches_the_event_stream_of_another(stack, team, listen):
    watched, deciding = team(stack, 2)
    stream = listen(watched.url, headers=watched.headers)
    name = stack.start()
    wait_for(lambda: stream.seen("stored", name), 15, "the stored event on the watched controller")
    deciding.wait_for_pending(name)

    assert deciding.post(f"/approve/{name}").status_code == 200

    wait_for(lambda: stream.seen("changed", name, "approved"), 15, "the other controller's approval on the stream")
    assert [event.data["state"] for event in stream.events] == ["pending", "deciding", "approved"]


def test_a_stream_resumed_on_another_controller_with_last_event_id_gets_exactly_the_events_it_missed(
    emulator, stack, team, listen
):
    first, second = team(stack, 2)
    backend = DynamoDbBackend(emulator.client("dynamodb"), first.app.config["DYNAMODB_TABLE"])
    with closing(backend.open()) as store:
        start = str(store.event_range()[1])
    whole = listen(first.url, start, first.headers)  # open throughout: every event, as the table numbers them
    left = listen(first.url, start, first.headers)
    names = [stack.start({**ORDER, "order_id": f"ORD-{i}"}) for i in range(2)]
    wait_for(lambda: all(left.seen("stored", name) for name in names), 15, "both stored events")
    last_seen = left.events[-1].id
    left.close()
    # missed: changes made on either controller, and a request stored by whichever pulled it
    for controller in (first, second):
        controller.wait_for_pending(names[1])
    assert first.post(f"/approve/{names[0]}").status_code == 200
    assert second.post(f"/reject/{names[1]}", {"reason": "No."}).status_code == 200
    later = stack.start()
    wait_for(lambda: whole.seen("stored", later), 15, "the later request's stored event")

    resumed = listen(second.url, str(last_seen), second.headers)

    missed = [event for event in whole.events if event.id > last_seen]
    wait_for(lambda: len(resumed.events) >= len(missed), 15, f"the {len(missed)} missed events on the other one")
    assert resumed.events == missed
    assert [event.id for event in missed] == list(range(last_seen + 1, last_seen + 1 + len(missed)))
    assert [(event.kind, event.data["id"], event.data["state"]) for event in missed] == [
        ("changed", names[0], "deciding"),
        ("changed", names[0], "approved"),
        ("changed", names[1], "deciding"),
        ("changed", names[1], "rejected"),
        ("stored", later, "pending"),
    ]


@pytest.mark.parametrize("outage", [HANG, REFUSE])
def test_while_dynamodb_cannot_be_reached_decisions_get_503_and_afterwards_nothing_is_lost(
    emulator, team, fault_proxy, outage
):
    stack = make_stack(emulator, visibility_timeout_seconds=2)  # an order the controller could not store returns soon
    # every AWS call through the proxy; short timeouts, so that a hung call ends within a request's time
    (controller,) = team(
        stack, 1, AWS_ENDPOINT_URL=fault_proxy.url, AWS_READ_TIMEOUT_SECONDS=1, AWS_CONNECT_TIMEOUT_SECONDS=1
    )
    before = stack.start()
    controller.wait_for_pending(before)

    with fault_proxy.outage(outage):
        during = [stack.start({**ORDER, "order_id": f"ORD-{i}"}) for i in range(OUTAGE_ORDERS)]
        wait_for(lambda: in_flight(stack) > 0, 15, "the controller to take an order it cannot store")
        refused = controller.post(f"/approve/{before}")
        listing = controller.get("/pending")
        health = requests.get(controller.url + "/health", timeout=30)  # as a load balancer asks, no identity

    assert fault_proxy.cut_off > 0
    assert (refused.status_code, refused.json()["error"]) in {(503, "StoreUnavailable"), (503, "AwsUnavailable")}
    assert refused.json()["message"]
    assert listing.status_code in (200, 503) and (listing.status_code == 200 or listing.json()["error"]), listing.text
    assert (health.status_code, health.json()["status"]) == (503, "failing"), health.text
    for name in [before, *during]:
        controller.wait_for_pending(name, timeout=30)
    decided = controller.post("/approve", {"ids": [before, *during]}).json()
    assert decided["decided"] == 1 + OUTAGE_ORDERS, decided
    for name in [before, *during]:
        assert stack.wait_until_finished(name)["status"] == "SUCCEEDED", name
        assert stack.approval_answers(name) == ["TaskSucceeded"], name
    wait_for(lambda: stack.queue_depth() == 0, 15, "every message deleted from the queue")


def test_once_a_hung_table_is_noted_requests_are_answered_without_waiting_for_it_until_it_answers_again(
    emulator, team, fault_proxy
):
    """A table that hangs would hold each request thread for the client's attempts times its read timeout; once
    one call has failed so, the controller sends nothing more until its probe writes the table again."""
    stack = make_stack(emulator)
    (controller,) = team(
        stack, 1, AWS_ENDPOINT_URL=fault_proxy.url, AWS_READ_TIMEOUT_SECONDS=1, AWS_CONNECT_TIMEOUT_SECONDS=1
    )
    name = stack.start()
    controller.wait_for_pending(name)

    with fault_proxy.outage(HANG):
        first = controller.post(f"/approve/{name}")  # waits out the hung attempts, and notes the failure
        later = [controller.post(f"/approve/{name}") for _ in range(HUNG_ASKS)]

    assert (first.status_code, first.json()["error"]) == (503, "StoreUnavailable"), first.text
    for answer in later:
        assert (answer.status_code, answer.json()["error"]) == (503, "StoreUnavailable"), answer.text
        assert "Nothing was sent" in answer.json()["message"], answer.text
    wait_for(lambda: controller.post(f"/approve/{name}").status_code == 200, 30, "the approval once the table answers")
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"
    assert stack.approval_answers(name) == ["TaskSucceeded"]


def test_health_alone_finds_the_table_again_without_the_background(emulator, team, fault_proxy):
    """A load balancer that took a failing controller out of rotation sends it nothing but /health: that must
    be enough to see the table answer again, even with no background probe (CONTROLLER_BACKGROUND=false)."""
    stack = make_stack(emulator)
    (controller,) = team(
        stack,
        1,
        BACKGROUND=False,
        AWS_ENDPOINT_URL=fault_proxy.url,
        AWS_READ_TIMEOUT_SECONDS=1,
        AWS_CONNECT_TIMEOUT_SECONDS=1,
    )
    with fault_proxy.outage(REFUSE):
        during = requests.get(controller.url + "/health", timeout=30)

    assert (during.status_code, during.json()["status"]) == (503, "failing"), during.text
    wait_for(lambda: requests.get(controller.url + "/health", timeout=30).status_code == 200, 15, "/health to pass")


def test_a_request_with_a_valid_token_reads_the_users_once_and_not_the_sign_in_state(stack, team):
    """A caller whose token matches shows that users exist, so the table is read once for sign-in, not twice;
    a wrong token is still refused, after asking whether sign-in is on."""
    (controller,) = team(stack, 1, BACKGROUND=False)
    reads: list[str] = []
    events = backend_of(controller.app).dynamodb.meta.events
    events.register("before-parameter-build.dynamodb", lambda params, model, **_: reads.append(_read(model, params)))

    signed_in = controller.get("/approvals/none-such")  # signed in: found to be no request
    by_token, reads[:] = list(reads), []
    refused = requests.get(controller.url + "/approvals/none-such", headers={"Authorization": "Bearer x"}, timeout=30)

    assert (signed_in.status_code, signed_in.json()["error"]) == (404, "RequestNotFound"), signed_in.text
    assert by_token.count("Query users") == 1 and "GetItem sign-in" not in by_token, by_token
    assert refused.status_code == 401, refused.text
    assert "GetItem sign-in" in reads, reads


def test_a_request_listed_moments_before_is_decided_without_reading_it_again(stack, team):
    """The list read each request whole: the decision's claim starts from that record, checked by its condition."""
    (controller,) = team(stack, 1, BACKGROUND=False)
    name = stack.start()
    controller.wait_for_pending(name)
    reads: list[str] = []
    events = backend_of(controller.app).dynamodb.meta.events
    events.register("before-parameter-build.dynamodb", lambda params, model, **_: reads.append(_read(model, params)))

    approved = controller.post(f"/approve/{name}")

    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert not [read for read in reads if read.startswith("GetItem request#")], reads
    assert stack.approval_answers(name) == ["TaskSucceeded"]


def test_a_request_another_controller_decided_since_it_was_listed_is_refused_from_the_table(stack, team):
    listing, deciding = team(stack, 2, BACKGROUND=False)
    name = stack.start()
    listing.wait_for_pending(name)  # listed as pending here
    assert deciding.post(f"/reject/{name}", {"reason": "No."}).status_code == 200

    late = listing.post(f"/approve/{name}")

    assert late.status_code == 409, late.text
    assert (late.json()["error"], late.json()["state"]) == ("AlreadyDecided", "rejected")
    assert stack.wait_until_finished(name)["status"] == "FAILED"
    assert stack.approval_answers(name) == ["TaskFailed"]


def test_a_request_checked_since_it_was_listed_is_still_decided_and_keeps_its_newer_check_time(stack, team):
    """A liveness check moves the request's check time after the list read it: the claim, conditioned on the state
    the list saw, goes through, and writes nothing of the list's older check time."""
    listing, checking = team(stack, 2, BACKGROUND=False)
    name = stack.start()
    listing.wait_for_pending(name)
    with closing(backend_of(checking.app).open()) as store:
        listed = store.get_request(name)
        wait_for(lambda: now() > listed.checked_at, 5, "a later time")
        store.touch(name)
        checked_at = store.get_request(name).checked_at

    approved = listing.post(f"/approve/{name}")

    assert approved.status_code == 200, approved.text
    assert stack.approval_answers(name) == ["TaskSucceeded"]
    with closing(backend_of(checking.app).open()) as store:
        decided = store.get_request(name)
    assert (decided.state, decided.checked_at) == ("approved", checked_at)


def _read(model: Any, params: dict[str, Any]) -> str:
    """Name a table call by its operation and the partition it reads, as `GetItem sign-in` or `Query users`."""
    key = params.get("Key", {}).get("pk") or params.get("ExpressionAttributeValues", {}).get(":pk") or {}
    return f"{model.name} {key.get('S', '')}".strip()


def in_flight(stack: Stack) -> int:
    """The approval queue's messages received and not yet deleted."""
    attributes = stack.emulator.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_controller_starting_on_the_table_leaves_another_ones_fresh_claim_to_it(stack, team, tmp_path):
    (first,) = team(stack, 1)
    name = stack.start()
    first.wait_for_pending(name)
    table = first.app.config["DYNAMODB_TABLE"]
    shared = DynamoDbBackend(stack.emulator.client("dynamodb"), table)
    with closing(shared.open()) as store:  # as the first controller does, just before it calls Step Functions
        assert store.claim(name, Decision("approve", "Grace", None)) is not None

    settings = {"STORE": "dynamodb", "DYNAMODB_TABLE": table, "SECRET_KEY": SHARED_SECRET, "BACKGROUND": False}
    second = ServedController(controller_config(stack.emulator, stack.queue_url, tmp_path / "b.sqlite3", **settings))
    second.stop()

    with closing(shared.open()) as store:
        claimed = store.get_request(name)
    assert claimed is not None and claimed.state == "deciding"
    assert stack.describe(name)["status"] == "RUNNING"  # not sent by the second controller's start
