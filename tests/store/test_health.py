"""Whether a store takes writes: a healthy one reports no failure, and checking it changes nothing."""

from __future__ import annotations


def test_a_store_that_takes_writes_reports_no_failure(store):
    assert store.failure() is None


def test_a_probe_of_a_store_that_takes_writes_goes_through_and_notes_nothing(store):
    store.probe()

    assert store.failure() is None


def test_checking_a_store_that_takes_writes_goes_through(store):
    store.check_writable()

    assert store.failure() is None
