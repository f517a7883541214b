"""The store contract for finding requests: search, filters, sorts, pages and a streamed listing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.core import states
from controller.storage.records import Decision, RequestQuery
from harness.store_records import at, new_request, tick

PENDING = RequestQuery(states=(states.PENDING,))


@pytest.fixture
def orders(store):
    """Three pending orders, stored in this order, with different customers, SKUs, totals and currencies."""
    made = [
        new_request(expires_in=900, customer={"id": "C-1", "name": "Ada Lovelace"}, total=10.0, currency="EUR"),
        new_request(expires_in=300, customer={"id": "C-2", "name": "Grace Hopper"}, total=250.0, currency="USD"),
        new_request(expires_in=600, customer={"id": "C-3", "name": "Alan Turing"}, total=99.5, currency="EUR"),
    ]
    made[2].order["items"].append({"sku": "LAMP-9", "quantity": 1})
    made = [replace(request, requested_at=at(-300 + 100 * i)) for i, request in enumerate(made)]
    for request in made:
        store.save_request(request)
        tick()
    return made


def ids(requests) -> list[str]:
    return [request.id for request in requests]


def test_text_finds_an_order_by_its_id_customer_or_sku_whatever_the_case(store, orders):
    ada, grace, alan = orders
    for text, expected in [
        (ada.order["order_id"], [ada.id]),
        ("grace", [grace.id]),
        ("c-3", [alan.id]),
        ("lamp-9", [alan.id]),
        ("book-1", ids(orders)),
        ("nobody", []),
        ("%", []),  # no wildcard: a literal percent sign
        ("lovelace c-1", []),  # no match across two fields
    ]:
        assert ids(store.find_requests(RequestQuery(states=(states.PENDING,), text=text), 10)) == expected, text


def test_filters_by_total_range_and_currency_combine(store, orders):
    ada, grace, alan = orders
    euros = RequestQuery(states=(states.PENDING,), currency="EUR")
    mid = RequestQuery(states=(states.PENDING,), min_total=50, max_total=250)

    assert ids(store.find_requests(euros, 10)) == [ada.id, alan.id]
    assert ids(store.find_requests(mid, 10)) == [grace.id, alan.id]
    assert store.count_requests(RequestQuery(states=(states.PENDING,), currency="EUR", min_total=50)) == 1


@pytest.mark.parametrize(
    ("sort", "order"),
    [("waiting", [0, 1, 2]), ("newest", [2, 1, 0]), ("expiry", [1, 2, 0]), ("total", [1, 2, 0])],
)
def test_each_sort_orders_the_list_and_pages_cut_it(store, orders, sort, order):
    query = RequestQuery(states=(states.PENDING,), sort=sort)

    assert ids(store.find_requests(query, 10)) == [orders[i].id for i in order]
    assert ids(store.find_requests(query, 2, offset=2)) == [orders[order[2]].id]
    assert store.count_requests(query) == 3


def test_ended_requests_filter_by_outcome_approver_customer_and_request_time(store, orders):
    ada, grace, alan = orders
    store.claim(ada.id, Decision("approve", approver="Grace Hopper"))
    store.finish(ada.id, states.APPROVED, None, from_state=states.DECIDING)
    tick()  # decided a millisecond apart, else the tie is broken by id and ada comes first
    store.claim(alan.id, Decision("reject", approver="Edsger", reason="no"))
    store.finish(alan.id, states.REJECTED, None, from_state=states.DECIDING)
    ended = RequestQuery(states=states.ENDED, sort="ended")

    assert ids(store.find_requests(ended, 10)) == [alan.id, ada.id]
    assert ids(store.find_requests(RequestQuery(states=(states.APPROVED,)), 10)) == [ada.id]
    assert ids(store.find_requests(RequestQuery(states=states.ENDED, approver="grace"), 10)) == [ada.id]
    assert ids(store.find_requests(RequestQuery(states=states.ENDED, customer="turing"), 10)) == [alan.id]
    since = RequestQuery(states=states.ENDED, requested_from=alan.requested_at)
    before = RequestQuery(states=states.ENDED, requested_before=alan.requested_at)
    assert ids(store.find_requests(since, 10)) == [alan.id]
    assert ids(store.find_requests(before, 10)) == [ada.id]
    assert ids(store.find_requests(PENDING, 10)) == [grace.id]


def test_iterating_yields_every_match_in_order(store, orders):
    query = RequestQuery(states=(states.PENDING,), sort="newest")

    assert ids(store.iter_requests(query)) == ids(reversed(orders))
    assert ids(store.iter_requests(RequestQuery(states=(states.EXPIRED,)))) == []
