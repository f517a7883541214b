"""The store contract for webhook notifications: due, delivered, retried later or given up on."""

from __future__ import annotations

from controller.storage.records import NotificationCounts
from harness.store_records import new_request, tick
from harness.together import AT_ONCE, all_at_once
from harness.waiting import wait_for


def test_only_a_request_saved_with_notify_has_a_notification(store):
    quiet, announced = new_request(), new_request()
    store.save_request(quiet)
    store.save_request(announced, notify=True)

    (due,) = store.due_notifications(10)

    assert (due.request.id, due.request.order, due.attempts) == (announced.id, announced.order, 0)
    assert store.notification_counts() == NotificationCounts(delivered=0, failed=0, waiting=1)


def test_a_delivered_notification_is_no_longer_due(store):
    arrived = new_request()
    store.save_request(arrived, notify=True)

    store.notification_sent(arrived.id)

    assert store.due_notifications(10) == []
    assert store.notification_counts() == NotificationCounts(delivered=1, failed=0, waiting=0)


def test_a_failed_notification_is_due_again_after_its_backoff_with_its_attempts_counted(store):
    later, now = new_request(), new_request()
    store.save_request(later, notify=True)
    store.save_request(now, notify=True)

    store.notification_failed(later.id, "503 busy", retry_in_seconds=3600)
    store.notification_failed(now.id, "503 busy", retry_in_seconds=0)

    assert [(due.request.id, due.attempts) for due in store.due_notifications(10)] == [(now.id, 1)]
    assert store.notification_counts() == NotificationCounts(delivered=0, failed=0, waiting=2)


def test_a_notification_given_up_on_is_counted_as_failed(store):
    arrived = new_request()
    store.save_request(arrived, notify=True)

    store.notification_failed(arrived.id, "refused", retry_in_seconds=None)

    assert store.due_notifications(10) == []
    assert store.notification_counts() == NotificationCounts(delivered=0, failed=1, waiting=0)


def test_due_notifications_come_oldest_first_up_to_the_limit(store):
    arrived = [new_request() for _ in range(3)]
    for request in arrived:
        store.save_request(request, notify=True)
        tick()

    assert [due.request.id for due in store.due_notifications(2)] == [r.id for r in arrived[:2]]


def test_senders_claiming_one_notification_at_once_claim_it_once(backend, store):
    arrived = new_request()
    store.save_request(arrived, notify=True)

    claimed = all_at_once(backend, lambda each, _: each.claim_notification(arrived.id, "new", 300), [None] * AT_ONCE)

    assert claimed.count(True) == 1
    assert store.due_notifications(10) == []  # another controller's outbox read does not see it while claimed
    assert store.notification_counts() == NotificationCounts(delivered=0, failed=0, waiting=1)


def test_a_claimed_notification_whose_sender_died_is_due_again_once_the_claim_ends(store):
    arrived = new_request()
    store.save_request(arrived, notify=True)

    assert store.claim_notification(arrived.id, "new", 1)  # and no outcome recorded: its sender is gone

    wait_for(lambda: store.due_notifications(10), 10, "the notification due again")
    assert store.claim_notification(arrived.id, "new", 300)


def test_a_notification_delivered_given_up_on_or_withdrawn_cannot_be_claimed(store):
    delivered, given_up, withdrawn = new_request(), new_request(), new_request()
    for request in (delivered, given_up, withdrawn):
        store.save_request(request, notify=True)
    store.notification_sent(delivered.id)
    store.notification_failed(given_up.id, "410 gone", retry_in_seconds=None)
    store.withdraw_notification(withdrawn.id, "new")

    assert [store.claim_notification(r.id, "new", 300) for r in (delivered, given_up, withdrawn)] == [False] * 3
    assert not store.claim_notification("exec-unknown", "reminder", 300)
