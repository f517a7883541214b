"""The store contract for queue messages set aside as not approval requests."""

from __future__ import annotations

from harness.store_records import tick


def test_a_message_set_aside_again_keeps_its_first_sighting_and_counts_its_receives(store):
    store.set_aside("m-1", "not an approval request: JSONDecodeError", 1)
    (first,) = store.invalid_messages(10)
    tick()

    store.set_aside("m-1", "not an approval request: JSONDecodeError", 3)

    (again,) = store.invalid_messages(10)
    assert (again.message_id, again.reason, again.receive_count) == ("m-1", first.reason, 3)
    assert again.first_seen == first.first_seen and again.last_seen > first.last_seen


def test_set_aside_messages_are_listed_latest_first_up_to_the_limit(store):
    for number in range(3):
        store.set_aside(f"m-{number}", "not an approval request", 1)
        tick()
    store.set_aside("m-0", "not an approval request", 2)

    assert [m.message_id for m in store.invalid_messages(2)] == ["m-0", "m-2"]
