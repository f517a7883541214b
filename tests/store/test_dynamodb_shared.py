"""What only a shared store has to get right: several controllers (here, threads with stores of their own) on
one DynamoDB table at once, and lists longer than one of DynamoDB's 1 MB pages."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from controller.core import states
from controller.core.errors import StoreUnavailable
from controller.storage.dynamodb import DynamoDbBackend, DynamoDbStore
from controller.storage.dynamodb.seen import SeenRequests
from controller.storage.interface import Store
from controller.storage.records import AuditAttempt, Decision
from harness.emulator import Emulator
from harness.store_records import new_request
from harness.waiting import free_port

CONTROLLERS = 4


def in_controllers(backend: DynamoDbBackend, work: Callable[[Store, Any], Any], items: list[Any]) -> list[Any]:
    """Run work(store, item) for each item, spread over CONTROLLERS threads, each a controller of its own (a
    backend of its own on the same table, so that none knows the event head another saw)."""

    def each(item: Any) -> Any:
        store = DynamoDbBackend(backend.dynamodb, backend.table).open()
        try:
            return work(store, item)
        finally:
            store.close()

    with ThreadPoolExecutor(CONTROLLERS) as pool:
        return list(pool.map(each, items))


def test_changes_committed_by_several_controllers_at_once_are_numbered_densely_each_once(
    shared: DynamoDbBackend,
) -> None:
    arrived = [new_request() for _ in range(24)]

    in_controllers(shared, lambda store, request: store.save_request(request), arrived)
    in_controllers(shared, lambda store, request: store.claim(request.id, Decision("approve")), arrived)

    store = shared.open()
    events = store.events_after(0)
    assert [event.seq for event in events] == list(range(1, 2 * len(arrived) + 1))
    assert sorted((event.request_id, event.kind) for event in events) == sorted(
        (request.id, kind) for request in arrived for kind in ("stored", "changed")
    )
    assert store.event_range() == (1, 2 * len(arrived))


def test_the_same_request_claimed_by_several_controllers_at_once_is_claimed_once(shared: DynamoDbBackend) -> None:
    arrived = new_request()
    shared.open().save_request(arrived)

    claims = in_controllers(
        shared, lambda store, approver: store.claim(arrived.id, Decision("approve", approver)), ["A", "B", "C", "D"]
    )

    (winner,) = [claim for claim in claims if claim is not None]
    stored = shared.open().get_request(arrived.id)
    assert stored is not None and stored.state == states.DECIDING
    assert stored.decision == winner.decision
    assert [event.state for event in shared.open().events_after(0)] == [states.PENDING, states.DECIDING]


def test_attempts_audited_by_several_controllers_at_once_are_numbered_densely_each_once(
    shared: DynamoDbBackend,
) -> None:
    attempts = [AuditAttempt("Grace", "approver", None, "approve", f"req-{n % 3}", 200, "approved") for n in range(24)]

    in_controllers(shared, lambda store, attempt: store.record_attempt(attempt), attempts)

    trails = [shared.open().audit_trail(f"req-{n}") for n in range(3)]
    assert all([event.id for event in trail] == sorted(event.id for event in trail) for trail in trails)
    assert sorted(event.id for trail in trails for event in trail) == list(range(1, len(attempts) + 1))


def test_lists_longer_than_one_page_of_dynamodb_are_read_whole(shared: DynamoDbBackend) -> None:
    store = shared.open()
    large = "x" * 300_000  # four such requests pass DynamoDB's 1 MB page; an item holds at most 400 KB
    arrived = [new_request(note=large) for _ in range(5)]
    for request in arrived:
        store.save_request(request)

    assert [request.id for request in store.pending()] == [request.id for request in arrived]
    assert store.count_pending() == len(arrived)
    assert store.pending_summary().count == len(arrived)


def test_a_table_out_of_reach_is_reported_unavailable_to_every_store_until_a_write_goes_through(
    shared: DynamoDbBackend, emulator: Emulator
) -> None:
    nowhere = emulator.client("dynamodb", endpoint_url=f"http://127.0.0.1:{free_port()}")
    cut_off = DynamoDbStore(nowhere, shared.table, shared.health())

    with pytest.raises(StoreUnavailable, match=shared.table):
        cut_off.probe()

    assert shared.open().failure() == cut_off.failure() is not None
    shared.open().check_writable()  # this one reaches the table
    assert cut_off.failure() is None


def test_what_a_controller_lists_is_kept_for_one_decision_each_within_its_bounds(shared: DynamoDbBackend) -> None:
    """A list keeps its pending records for the decisions that follow it, each taken once, the newest while
    their orders fit the bound, none past its time; a record not kept is read from the table."""
    arrived = [new_request(note="x" * 1000) for _ in range(3)]
    for request in arrived:
        shared.open().save_request(request)  # stored by this controller: kept as stored
    reads = Counter[str]()
    client = shared.dynamodb
    client.meta.events.register("before-send.dynamodb.GetItem", lambda **_: reads.update(["GetItem"]))
    order_characters = len(json.dumps(arrived[0].order))
    bounded = DynamoDbStore(client, shared.table, seen=SeenRequests(most_characters=2 * order_characters + 10))
    timed_out = DynamoDbStore(client, shared.table, seen=SeenRequests(seconds=0))

    listed = bounded.pending()
    timed_out.pending()
    as_seen = [bounded.request_as_seen(request.id) for request in arrived]

    assert reads["GetItem"] == 1  # the oldest left no room; the two newest came from the list
    assert as_seen == listed
    assert bounded.request_as_seen(arrived[2].id) == listed[2] and reads["GetItem"] == 2  # taken once only
    assert timed_out.request_as_seen(arrived[0].id) == listed[0] and reads["GetItem"] == 3
    assert bounded.request_as_seen("no-such-request") is None
