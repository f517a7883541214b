"""The store contract for the event log: every arrival and change of state, numbered in order."""

from __future__ import annotations

from controller.core import states
from controller.storage.records import Decision, StoredEvent
from harness.store_records import new_request


def test_an_empty_log_has_the_range_zero_to_zero(store):
    assert store.event_range() == (0, 0)
    assert store.events_after(0) == []


def test_each_arrival_and_change_of_state_is_logged_in_order(store):
    arrived = new_request()
    store.save_request(arrived)
    store.touch(arrived.id)  # not a change of state
    store.claim(arrived.id, Decision("reject", reason="no"))
    store.finish(arrived.id, states.REJECTED, None, from_state=states.DECIDING)
    store.save_request(arrived)  # delivered again: nothing new

    logged = store.events_after(0)

    assert [(e.kind, e.request_id, e.state) for e in logged] == [
        ("stored", arrived.id, states.PENDING),
        ("changed", arrived.id, states.DECIDING),
        ("changed", arrived.id, states.REJECTED),
    ]
    assert [e.seq for e in logged] == sorted({e.seq for e in logged})
    assert store.event_range() == (logged[0].seq, logged[-1].seq)
    assert store.events_after(logged[0].seq, limit=1) == [logged[1]]
    assert all(isinstance(e, StoredEvent) for e in logged)


def test_forgetting_events_keeps_the_latest(store):
    for _ in range(5):
        store.save_request(new_request())
    first, last = store.event_range()

    store.forget_events(keep=2)

    assert store.event_range() == (last - 1, last)
    assert [e.seq for e in store.events_after(first - 1)] == [last - 1, last]
