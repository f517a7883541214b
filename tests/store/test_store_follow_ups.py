"""The store contract for reminders and escalations: due at the times fixed when a request was stored, taken at
most once each, only while the request is pending, and queued as notifications in the same step."""

from __future__ import annotations

from dataclasses import replace

from controller.core import states
from controller.storage.records import Decision, FollowUp, NotificationCounts
from harness.store_records import at, new_request, tick
from harness.together import AT_ONCE, all_at_once


def follow_ups_of(arrived, remind_in=None, escalate_in=None):
    """The request with its reminder and escalation this many seconds from now (None: it has none)."""
    return replace(
        arrived,
        remind_at=None if remind_in is None else at(remind_in),
        escalate_at=None if escalate_in is None else at(escalate_in),
    )


def test_a_follow_up_is_due_once_its_time_has_come_longest_due_first(store):
    reminded, escalated, later, without = (
        follow_ups_of(new_request(), remind_in=-5),
        follow_ups_of(new_request(), escalate_in=-10),
        follow_ups_of(new_request(), remind_in=600, escalate_in=600),
        new_request(),
    )
    for request in (reminded, escalated, later, without):
        store.save_request(request)

    assert store.due_follow_ups(10) == [FollowUp(escalated.id, "escalation"), FollowUp(reminded.id, "reminder")]
    assert store.due_follow_ups(1) == [FollowUp(escalated.id, "escalation")]


def test_a_follow_up_is_taken_once_with_its_notification_queued_beside_the_new_one(store):
    arrived = follow_ups_of(new_request(), remind_in=-1, escalate_in=-1)
    store.save_request(arrived, notify=True)

    assert store.take_follow_up(arrived.id, "reminder", notify=True)
    assert not store.take_follow_up(arrived.id, "reminder", notify=True)

    assert store.due_follow_ups(10) == [FollowUp(arrived.id, "escalation")]
    assert sorted((due.request.id, due.kind) for due in store.due_notifications(10)) == [
        (arrived.id, "new"),
        (arrived.id, "reminder"),
    ]


def test_each_kind_of_notification_is_delivered_retried_and_withdrawn_on_its_own(store):
    arrived = follow_ups_of(new_request(), remind_in=-1, escalate_in=-1)
    store.save_request(arrived, notify=True)
    store.take_follow_up(arrived.id, "reminder", notify=True)
    store.take_follow_up(arrived.id, "escalation", notify=True)

    store.notification_sent(arrived.id, "reminder")
    store.notification_failed(arrived.id, "503 busy", retry_in_seconds=3600, kind="escalation")

    assert [(due.kind, due.attempts) for due in store.due_notifications(10)] == [("new", 0)]
    assert store.notification_counts() == NotificationCounts(delivered=1, failed=0, waiting=2)
    store.withdraw_notification(arrived.id, "escalation")
    store.withdraw_notification(arrived.id, "reminder")  # delivered already: kept
    assert store.notification_counts() == NotificationCounts(delivered=1, failed=0, waiting=1)


def test_no_follow_up_is_taken_once_the_request_is_no_longer_pending(store):
    decided, deciding = (follow_ups_of(new_request(), remind_in=-1, escalate_in=-1) for _ in range(2))
    for request in (decided, deciding):
        store.save_request(request, notify=True)
        store.notification_sent(request.id)
        store.claim(request.id, Decision("reject", reason="no"))
    store.finish(decided.id, states.REJECTED, None, from_state=states.DECIDING)

    for request in (decided, deciding):
        assert not store.take_follow_up(request.id, "reminder", notify=True)
        assert not store.take_follow_up(request.id, "escalation", notify=True)

    assert [due for due in store.due_follow_ups(10) if due.request_id == decided.id] == []  # declined for good
    assert store.due_notifications(10) == []


def test_an_escalation_is_a_change_on_the_event_log_and_a_reminder_is_not(store):
    arrived = follow_ups_of(new_request(), remind_in=-1, escalate_in=-1)
    store.save_request(arrived)
    _, before = store.event_range()

    store.take_follow_up(arrived.id, "reminder", notify=False)
    store.take_follow_up(arrived.id, "escalation", notify=False)

    assert [(e.kind, e.request_id, e.state) for e in store.events_after(before)] == [
        ("changed", arrived.id, states.PENDING)
    ]
    assert store.due_notifications(10) == []  # taken without a webhook: nothing to send
    assert store.due_follow_ups(10) == []


def test_a_follow_up_not_yet_due_is_not_taken(store):
    arrived = follow_ups_of(new_request(), remind_in=600, escalate_in=600)
    store.save_request(arrived)

    assert not store.take_follow_up(arrived.id, "reminder", notify=True)
    assert not store.take_follow_up(arrived.id, "escalation", notify=True)


def test_a_follow_up_of_a_request_being_decided_waits_for_the_decision_to_fall_through(store):
    arrived = follow_ups_of(new_request(), remind_in=-1)
    store.save_request(arrived)
    store.claim(arrived.id, Decision("approve", "alice"))

    assert not store.take_follow_up(arrived.id, "reminder", notify=False)
    store.release(arrived.id)

    assert store.due_follow_ups(10) == [FollowUp(arrived.id, "reminder")]
    assert store.take_follow_up(arrived.id, "reminder", notify=False)


def test_controllers_taking_one_follow_up_at_once_take_it_once(backend, store):
    arrived = follow_ups_of(new_request(), remind_in=-1, escalate_in=-1)
    store.save_request(arrived)
    kinds = ["reminder", "escalation"] * (AT_ONCE // 2)

    taken = all_at_once(backend, lambda each, kind: each.take_follow_up(arrived.id, kind, notify=True), kinds)

    assert sorted(kind for kind, took in zip(kinds, taken, strict=True) if took) == ["escalation", "reminder"]
    assert sorted(due.kind for due in store.due_notifications(10)) == ["escalation", "reminder"]


def test_requests_being_decided_crowd_out_neither_a_pending_follow_up_nor_its_notification(store):
    deciding = [follow_ups_of(new_request(), remind_in=-10, escalate_in=-10) for _ in range(3)]
    waiting = follow_ups_of(new_request(), remind_in=-5, escalate_in=-5)
    for request in deciding:  # their reminders queued, then a decision under way: due first, and all a batch holds
        store.save_request(request, notify=True)
        store.notification_sent(request.id)
        store.take_follow_up(request.id, "reminder", notify=True)
        store.claim(request.id, Decision("approve", "alice"))
        tick()
    store.save_request(waiting, notify=True)
    store.notification_sent(waiting.id)
    store.take_follow_up(waiting.id, "reminder", notify=True)

    assert store.due_follow_ups(3) == [FollowUp(waiting.id, "escalation")]
    assert [(due.request.id, due.kind) for due in store.due_notifications(3)] == [(waiting.id, "reminder")]
