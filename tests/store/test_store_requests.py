"""The store contract for approval requests: arrival, claims guarded by state, ends, and what is shown."""

from __future__ import annotations

from dataclasses import replace

from controller.core import states
from controller.storage.interface import TIMEOUT_PASSED
from controller.storage.records import Decision, ExecutionStatus
from harness.store_records import new_request, tick

APPROVAL = Decision("approve", approver="Grace", comment="fine")


def test_a_saved_request_reads_back_as_it_arrived_and_pending(store):
    arrived = new_request(customer={"name": "Ada"})

    assert store.save_request(arrived)

    stored = store.get_request(arrived.id)
    assert stored is not None
    assert (stored.id, stored.execution_arn, stored.task_token) == (
        arrived.id,
        arrived.execution_arn,
        arrived.task_token,
    )
    assert (stored.order, stored.requested_at, stored.expires_at) == (
        arrived.order,
        arrived.requested_at,
        arrived.expires_at,
    )
    assert (stored.state, stored.decision, stored.decided_at, stored.claimed_at) == (states.PENDING, None, None, None)
    assert stored.received_at == stored.checked_at and stored.final_execution is None


def test_a_request_delivered_twice_is_stored_once(store):
    arrived = new_request()

    assert store.save_request(arrived, notify=True)
    assert not store.save_request(replace(arrived, task_token="another"), notify=True)

    assert store.get_request(arrived.id).task_token == arrived.task_token
    assert store.count_pending() == 1
    assert store.notification_counts().waiting == 1


def test_an_unknown_id_reads_as_none(store):
    assert store.get_request("no-such-request") is None
    assert store.claim("no-such-request", APPROVAL) is None
    assert not store.finish("no-such-request", states.CLOSED, "gone", from_state=states.PENDING)


def test_pending_requests_are_listed_oldest_first_up_to_the_limit(store):
    arrived = [new_request() for _ in range(3)]
    for request in arrived:
        store.save_request(request)

    assert [r.id for r in store.pending()] == [r.id for r in arrived]
    assert [r.id for r in store.pending(2)] == [r.id for r in arrived[:2]]
    assert store.count_pending() == 3


def test_a_claim_takes_a_pending_request_once_with_its_decision(store):
    arrived = new_request()
    store.save_request(arrived)

    claimed = store.claim(arrived.id, APPROVAL)

    assert claimed is not None
    assert (claimed.state, claimed.decision, claimed.task_token) == (states.DECIDING, APPROVAL, arrived.task_token)
    assert claimed.claimed_at is not None
    assert store.claim(arrived.id, Decision("reject", reason="no")) is None
    assert store.get_request(arrived.id).decision == APPROVAL
    assert store.count_pending() == 0


def test_a_released_claim_is_pending_again_with_its_decision_forgotten(store):
    arrived = new_request()
    store.save_request(arrived)
    store.claim(arrived.id, APPROVAL)

    store.release(arrived.id)

    released = store.get_request(arrived.id)
    assert (released.state, released.decision) == (states.PENDING, None)
    assert store.claim(arrived.id, APPROVAL) is not None


def test_a_release_leaves_a_request_that_is_not_claimed_alone(store):
    arrived = new_request()
    store.save_request(arrived)
    store.claim(arrived.id, APPROVAL)
    store.finish(arrived.id, states.APPROVED, None, from_state=states.DECIDING)

    store.release(arrived.id)

    assert store.get_request(arrived.id).state == states.APPROVED


def test_finishing_is_guarded_by_the_state_it_leaves(store):
    arrived = new_request()
    store.save_request(arrived)
    store.claim(arrived.id, APPROVAL)

    assert not store.finish(arrived.id, states.CLOSED, "gone", from_state=states.PENDING)
    assert store.finish(arrived.id, states.APPROVED, None, from_state=states.DECIDING)
    assert not store.finish(arrived.id, states.REJECTED, None, from_state=states.DECIDING)

    finished = store.get_request(arrived.id)
    assert (finished.state, finished.decision, finished.closed_reason) == (states.APPROVED, APPROVAL, None)
    assert finished.decided_at is not None


def test_a_request_that_ends_undecided_has_a_reason_and_no_decision_time(store):
    arrived = new_request()
    store.save_request(arrived)

    assert store.finish(arrived.id, states.CLOSED, "The execution no longer exists.", from_state=states.PENDING)

    closed = store.get_request(arrived.id)
    assert (closed.state, closed.closed_reason, closed.decided_at) == (
        states.CLOSED,
        "The execution no longer exists.",
        None,
    )


def test_only_overdue_pending_requests_expire(store):
    overdue, other_overdue, waiting = new_request(expires_in=-1), new_request(expires_in=-1), new_request()
    claimed = new_request(expires_in=-1)
    for request in (overdue, other_overdue, waiting, claimed):
        store.save_request(request)
    store.claim(claimed.id, APPROVAL)

    store.expire_overdue(overdue.id)
    assert [store.get_request(r.id).state for r in (overdue, other_overdue)] == [states.EXPIRED, states.PENDING]

    store.expire_overdue()
    assert store.get_request(other_overdue.id).closed_reason == TIMEOUT_PASSED
    assert store.get_request(waiting.id).state == states.PENDING
    assert store.get_request(claimed.id).state == states.DECIDING  # its decision is on its way already


def test_a_request_looked_at_is_no_longer_stale(store):
    first, second = new_request(), new_request()
    store.save_request(first)
    tick()
    store.save_request(second)
    tick()

    assert [r.id for r in store.stale(0, 10)] == [first.id, second.id]
    assert store.stale(3600, 10) == []
    store.touch(first.id)
    assert [r.id for r in store.stale(0, 1)] == [second.id]


def test_claims_older_than_asked_are_stale(store):
    arrived = new_request()
    store.save_request(arrived)
    store.claim(arrived.id, APPROVAL)

    assert [r.id for r in store.stale_claims(0)] == [arrived.id]
    assert store.stale_claims(3600) == []
    assert store.stale(0, 10) == []  # a claimed request is not pending


def test_recent_ended_requests_are_listed_newest_first(store):
    arrived = [new_request() for _ in range(4)]
    for request in arrived:
        store.save_request(request)
        tick()
    store.finish(arrived[0].id, states.CLOSED, "gone", from_state=states.PENDING)
    store.finish(arrived[1].id, states.EXPIRED, "late", from_state=states.PENDING)
    store.claim(arrived[2].id, APPROVAL)  # deciding: not ended yet
    store.claim(arrived[3].id, APPROVAL)
    store.finish(arrived[3].id, states.APPROVED, None, from_state=states.DECIDING)

    # by the time of the decision, else of the last look at the execution
    assert [r.id for r in store.recent_ended()] == [arrived[3].id, arrived[1].id, arrived[0].id]
    assert [r.id for r in store.recent_ended(1)] == [arrived[3].id]


def test_a_kept_execution_status_reads_back(store):
    arrived = new_request()
    store.save_request(arrived)

    store.keep_final_execution(arrived.id, ExecutionStatus("FAILED", "Rejected", "Out of stock."))

    assert store.get_request(arrived.id).final_execution == ExecutionStatus("FAILED", "Rejected", "Out of stock.")


def test_the_public_view_never_shows_the_task_token_or_the_bookkeeping(store):
    arrived = new_request()
    store.save_request(arrived)
    store.keep_final_execution(arrived.id, ExecutionStatus("RUNNING"))
    stored = store.claim(arrived.id, APPROVAL)

    shown = stored.public()

    assert arrived.task_token not in repr(shown) and arrived.task_token not in repr(stored)
    assert arrived.task_token not in repr(arrived)
    assert not {"task_token", "checked_at", "final_execution", "order_json"} & set(shown)
    assert list(shown) == [
        "id", "execution_arn", "requested_at", "expires_at", "received_at", "state", "decision",
        "approver", "comment", "reason", "decided_at", "closed_reason", "claimed_at", "order", "order_digest",
    ]  # fmt: skip
    assert (shown["decision"], shown["approver"], shown["comment"], shown["order"]) == (
        "approve",
        "Grace",
        "fine",
        arrived.order,
    )
