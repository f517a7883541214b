"""The store contract for webhook notifications: due, delivered, retried later or given up on."""

from __future__ import annotations

from controller.storage.records import NotificationCounts
from harness.store_records import new_request, tick


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
