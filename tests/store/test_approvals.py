"""The store contract for approval rules: a request's rule, approvals by distinct people, and users' groups."""

from __future__ import annotations

import threading
from dataclasses import replace

from controller.core import states
from controller.storage.records import Approval, Decision, now
from harness.store_records import new_request

RULE = {"name": "large orders", "approvals": 2, "groups": ["finance"]}


def _under_rule(store):
    request = replace(new_request(), rule=RULE)
    store.save_request(request)
    return request


def test_a_requests_rule_reads_back_as_stored_and_none_without_one(store):
    ruled, plain = _under_rule(store), new_request()
    store.save_request(plain)

    assert store.get_request(ruled.id).rule == RULE
    assert store.get_request(plain.id).rule is None


def test_approvals_are_recorded_once_per_person_until_the_last_one_claims_the_request(store):
    request = _under_rule(store)

    first = store.add_approval(request.id, Approval("alice", now(), "checked"), required=2)
    again = store.add_approval(request.id, Approval("alice", now()), required=2)
    pending = store.get_request(request.id)
    last = store.add_approval(request.id, Approval("carol", now(), "fine"), required=2)
    late = store.add_approval(request.id, Approval("dave", now()), required=2)

    assert (first.result, first.claimed, again.result, pending.state) == ("recorded", None, "duplicate", "pending")
    assert last.result == "claimed"
    assert (last.claimed.state, last.claimed.decision) == (states.DECIDING, Decision("approve", "carol", "fine"))
    assert late.result == "not pending"
    assert [(a.approver, a.comment) for a in store.approvals(request.id)] == [("alice", "checked"), ("carol", "fine")]


def test_an_approval_of_an_unknown_or_ended_request_is_not_recorded(store):
    request = _under_rule(store)
    store.claim(request.id, Decision("reject", "carol", reason="no"))

    assert store.add_approval("no-such-request", Approval("alice", now()), required=1).result == "not pending"
    assert store.add_approval(request.id, Approval("alice", now()), required=1).result == "not pending"
    assert store.approvals(request.id) == []


def test_two_last_approvals_racing_claim_the_request_once(backend):
    opened = backend.open()
    request = _under_rule(opened)
    opened.add_approval(request.id, Approval("alice", now()), required=3)
    results: list[str] = []

    def approve(name: str) -> None:
        own = backend.open()
        try:
            results.append(own.add_approval(request.id, Approval(name, now()), required=3).result)
        finally:
            own.close()

    racers = [threading.Thread(target=approve, args=(name,)) for name in ("carol", "dave", "erin")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    assert sorted(results) == ["claimed", "not pending", "recorded"]
    assert len(opened.approvals(request.id)) == 3
    opened.close()


def test_a_released_approval_claim_takes_back_the_approval_that_made_it(store):
    request = _under_rule(store)
    store.add_approval(request.id, Approval("alice", now()), required=2)
    store.add_approval(request.id, Approval("carol", now()), required=2)

    store.release(request.id)

    assert store.get_request(request.id).state == states.PENDING
    assert [a.approver for a in store.approvals(request.id)] == ["alice"]
    assert store.add_approval(request.id, Approval("carol", now()), required=2).result == "claimed"


def test_a_released_rejection_keeps_the_approvals_given_before(store):
    request = _under_rule(store)
    store.add_approval(request.id, Approval("alice", now()), required=2)
    store.claim(request.id, Decision("reject", "alice", reason="changed my mind"))

    store.release(request.id)

    assert [a.approver for a in store.approvals(request.id)] == ["alice"]


def test_users_have_groups_that_can_be_changed(store):
    store.add_user("alice", "approver", "p", "t", groups=["ops", "finance", "ops"])
    store.add_user("bob", "approver", "p", "t")

    assert (store.user("alice").groups, store.user("bob").groups) == (("finance", "ops"), ())
    assert store.set_groups("bob", ["managers"]) and not store.set_groups("nobody", ["managers"])
    assert store.set_groups("alice", [])
    assert [(user.name, user.groups) for user in store.users()] == [("alice", ()), ("bob", ("managers",))]
