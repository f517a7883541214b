"""Finding a pending request among many, over real HTTP: search, filters, sorts and pages, in the JSON API
and on the page, all in the URL."""

from __future__ import annotations

import html
import re

import pytest

from harness.orders import ORDER


def order(number: int, price: float, currency: str = "EUR") -> dict:
    return {
        **ORDER,
        "order_id": f"ORD-S{number}",
        "customer": {"id": f"C-{number}", "name": f"Customer {number}"},
        "items": [{"sku": f"SKU-{number}", "quantity": 1, "unit_price": price}],
        "currency": currency,
    }


@pytest.fixture
def waiting(stack, controller):
    """Five pending orders, stored oldest first, priced 50, 10, 40, 20 and 30 (the last in USD)."""
    names = []
    for number, price in enumerate((50, 10, 40, 20, 30), start=1):
        names.append(stack.start(order(number, price, "USD" if number == 5 else "EUR")))
        controller.wait_for_pending(names[-1])
    return names


def listed(controller, query: str) -> tuple[list[str], dict]:
    response = controller.get(f"/pending?{query}")
    assert response.status_code == 200, response.text
    return [item["order"]["order_id"] for item in response.json()["pending"]], response.json()


def test_q_finds_one_order_by_its_id_customer_or_sku_while_count_still_counts_all(controller, waiting):
    for query in ("q=ORD-S3", "q=customer%203", "q=sku-3"):
        found, body = listed(controller, query)
        assert found == ["ORD-S3"], query
        assert (body["count"], body["matched"]) == (5, 1)
        assert "search_text" not in body["pending"][0]  # the store's own bookkeeping


def test_filters_by_total_range_and_currency(controller, waiting):
    assert listed(controller, "min_total=20&max_total=40")[0] == ["ORD-S3", "ORD-S4", "ORD-S5"]
    assert listed(controller, "currency=USD")[0] == ["ORD-S5"]
    assert listed(controller, "currency=EUR&min_total=45")[0] == ["ORD-S1"]


def test_sorts_and_pages_reach_every_request(controller, waiting):
    assert listed(controller, "sort=total")[0] == ["ORD-S1", "ORD-S3", "ORD-S5", "ORD-S4", "ORD-S2"]
    assert listed(controller, "sort=newest&limit=1")[0] == ["ORD-S5"]
    assert listed(controller, "limit=2&page=3")[0] == ["ORD-S5"]
    assert listed(controller, "limit=2&page=4")[0] == []
    assert listed(controller, "sort=expiry")[0] == ["ORD-S1", "ORD-S2", "ORD-S3", "ORD-S4", "ORD-S5"]


def test_the_page_shows_the_search_from_its_url_and_keeps_it_in_its_links_and_live_updates(controller, waiting):
    page = controller.get("/?q=ORD-S&sort=total&per=2")

    assert page.status_code == 200
    cards = re.findall(r'<h3 id="title-[^"]+"[^>]*>Order (ORD-S\d)</h3>', page.text)
    assert cards == ["ORD-S1", "ORD-S3"]
    assert 'Waiting for a decision (<span data-live="pending-count">5, 5 matches, 2 shown</span>)' in page.text
    assert 'value="ORD-S"' in page.text  # the form shows the search it ran
    next_page = html.unescape(re.search(r'href="([^"]+)" rel="next"', page.text).group(1))
    assert next_page.startswith("/?") and "q=ORD-S" in next_page and "sort=total" in next_page and "page=2" in next_page
    live = html.unescape(re.search(r'data-url="([^"]+)"', page.text).group(1))
    fragment = controller.get(live)
    assert re.findall(r'<h3 id="title-[^"]+"[^>]*>Order (ORD-S\d)</h3>', fragment.text) == ["ORD-S1", "ORD-S3"]
    shared = controller.get(next_page)
    assert re.findall(r'<h3 id="title-[^"]+"[^>]*>Order (ORD-S\d)</h3>', shared.text) == ["ORD-S5", "ORD-S4"]


def test_a_search_that_matches_nothing_says_so(controller, waiting):
    page = controller.get("/?q=nothing-like-it")

    assert "No pending request matches this search." in page.text
    assert "5, 0 matches" in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("min_total=cheap", "'min_total' must be an amount such as 250 or 99.50."),
        ("currency=euro", "'currency' must be a three-letter currency code such as EUR."),
        ("sort=ended", "'sort' must be one of waiting, newest, expiry, total."),
        ("page=0", "'page' must be a whole number from 1 to 1000000."),
    ],
)
def test_a_bad_search_parameter_gets_a_json_error_that_names_it(controller, query, message):
    for path in ("/pending", "/"):
        response = controller.get(f"{path}?{query}")
        assert response.status_code == 400
        assert response.json() == {"error": "InvalidInput", "message": message}
