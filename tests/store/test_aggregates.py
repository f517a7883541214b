"""The store contract for aggregates: what /metrics and the insights count, over the whole store."""

from __future__ import annotations

from dataclasses import replace

from controller.core import states
from controller.storage.records import Decision
from harness.store_records import at, new_request


def decided(store, action: str) -> str:
    request = new_request()
    store.save_request(request)
    store.claim(request.id, Decision(action, approver="Grace"))
    store.finish(request.id, states.DECIDED_BY[action], None, from_state=states.DECIDING)
    return request.id


def test_an_empty_store_counts_nothing_and_has_no_oldest_request(store):
    summary = store.pending_summary()

    assert (summary.count, summary.oldest_requested_at, summary.soonest_expires_at) == (0, None, None)
    assert store.ended_counts() == dict.fromkeys(states.ENDED, 0)
    times = store.decision_times((60.0, 3600.0))
    assert (times.at_most, times.count, times.total_seconds) == ((0, 0), 0, 0.0)


def test_the_pending_summary_names_the_oldest_request_and_the_first_expiry(store):
    later, sooner = new_request(expires_in=7200), new_request(expires_in=600)
    store.save_request(later)
    store.save_request(sooner)
    decided(store, "approve")  # not pending: not counted

    summary = store.pending_summary()

    assert summary.count == 2
    assert summary.oldest_requested_at == min(later.requested_at, sooner.requested_at)
    assert summary.soonest_expires_at == sooner.expires_at


def test_the_pending_requests_are_summed_up_by_the_name_of_their_rule(store):
    large = [replace(new_request(expires_in=600 * n), rule={"name": "large orders", "approvals": 2}) for n in (1, 2)]
    small, unruled = replace(new_request(), rule={"name": "everything else", "approvals": 1}), new_request()
    for request in (*large, small, unruled):
        store.save_request(request)
    ended = replace(new_request(), rule={"name": "ended", "approvals": 1})
    store.save_request(ended)
    store.claim(ended.id, Decision("approve", approver="Grace"))
    store.finish(ended.id, states.APPROVED, None, from_state=states.DECIDING)

    by_rule = store.pending_by_rule()

    assert set(by_rule) == {"large orders", "everything else", None}  # an ended rule's request is not pending
    assert (by_rule["large orders"].count, by_rule["everything else"].count, by_rule[None].count) == (2, 1, 1)
    assert by_rule["large orders"].soonest_expires_at == large[0].expires_at
    assert by_rule["large orders"].oldest_requested_at == min(request.requested_at for request in large)
    assert sum(summary.count for summary in by_rule.values()) == store.pending_summary().count


def test_ended_requests_are_counted_by_the_state_they_ended_in(store):
    for action in ("approve", "approve", "reject"):
        decided(store, action)
    overdue, gone = new_request(expires_in=-1), new_request()
    store.save_request(overdue)
    store.save_request(gone)
    store.expire_overdue()
    store.finish(gone.id, states.CLOSED, "The execution no longer exists.", from_state=states.PENDING)
    store.save_request(new_request())  # still pending

    assert store.ended_counts() == {states.APPROVED: 2, states.REJECTED: 1, states.EXPIRED: 1, states.CLOSED: 1}


def test_decision_times_count_only_approvals_and_rejections_in_cumulative_bins(store):
    decided(store, "approve")
    decided(store, "reject")
    store.save_request(overdue := new_request(expires_in=-1))
    store.expire_overdue(overdue.id)

    times = store.decision_times((-1.0, 3600.0))

    assert times.bounds == (-1.0, 3600.0)
    assert times.at_most == (0, 2)  # none took less than no time; both well within the hour
    assert times.count == 2 and 0.0 <= times.total_seconds < 7200.0


def test_quantiles_of_recent_decisions_use_the_nearest_rank_and_none_when_there_were_none(store):
    assert store.decision_quantiles(at(-3600), (0.5, 0.9)) == (None, None)
    for action in ("approve", "reject", "approve"):
        decided(store, action)

    median, p90 = store.decision_quantiles(at(-3600), (0.5, 0.9))

    assert 0.0 <= median <= p90 < 3600.0
    assert store.decision_quantiles(at(60), (0.5,)) == (None,)  # nothing decided from a minute on


def test_ended_requests_are_counted_per_day_by_outcome(store):
    decided(store, "approve")
    decided(store, "reject")
    store.save_request(overdue := new_request(expires_in=-1))
    store.expire_overdue(overdue.id)

    days = store.ended_per_day(at(-86400))

    assert [day.day for day in days] == sorted({at(0)[:10], overdue.expires_at[:10]})
    totals = dict.fromkeys(states.ENDED, 0)
    for day in days:
        for state, count in day.counts.items():
            totals[state] += count
    assert totals == {states.APPROVED: 1, states.REJECTED: 1, states.EXPIRED: 1, states.CLOSED: 0}
    assert store.ended_per_day(at(3600)) == []
