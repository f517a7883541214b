"""Finding one request among 300 pending on the page, in Chromium: the search, a sort and the pages, and a
filtered view's URL opened by someone else."""

from __future__ import annotations

import re

import pytest

from harness.orders import ORDER
from harness.waiting import wait_for

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

PENDING = 300


def order(number: int) -> dict:
    # totals in another order than the numbers, so that sorting by total is not sorting by arrival
    price = (number * 37) % PENDING + 1
    return {
        **ORDER,
        "order_id": f"ORD-P{number}",
        "items": [{"sku": f"SKU-{number}", "quantity": 1, "unit_price": price}],
    }


def open_finder(page) -> None:
    """Unfold the search in the header, as a user would, unless the URL's search already did."""
    if page.locator(".finder[open]").count() == 0:
        page.locator(".finder summary").click()


def shown_orders(page) -> list[str]:
    return [title.removeprefix("Order ") for title in page.locator("#pending-list > li h3").all_inner_texts()]


@pytest.fixture
def many(stack, controller_factory):
    """A controller with 300 pending requests, ORD-P300 stored last."""
    controller = controller_factory(stack, PAGE_REFRESH_SECONDS=600)
    for number in range(1, PENDING):
        stack.start(order(number))

    def counted() -> int:
        return int(controller.get("/pending?limit=1").json()["count"])

    wait_for(lambda: counted() == PENDING - 1, 120, f"{PENDING - 1} requests to be pending")
    stack.start(order(PENDING))  # the newest, once all the others are stored
    wait_for(lambda: counted() == PENDING, 30, f"{PENDING} requests to be pending")
    return controller


@pytest.mark.slow  # 300 executions through the emulator: about a minute and a half
def test_with_300_pending_the_page_finds_one_order_sorts_and_pages_to_the_newest(many, page, browser):
    page.goto(many.url + "/")
    expect(page.locator("#pending-heading")).to_contain_text(f"({PENDING}, 100 shown)")
    expect(page.locator("#pending-list > li")).to_have_count(100)

    open_finder(page)
    page.get_by_role("searchbox", name="Order, customer or SKU").fill("ORD-P137")
    page.get_by_role("searchbox", name="Order, customer or SKU").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=ORD-P137"))
    expect(page.locator("#pending-heading")).to_contain_text(f"({PENDING}, 1 match)")
    assert shown_orders(page) == ["ORD-P137"]

    page.goto(many.url + "/")
    page.get_by_role("link", name="Next page").click()
    page.get_by_role("link", name="Next page").click()
    expect(page.locator(".paging")).to_contain_text("Page 3 of 3")
    assert shown_orders(page)[-1] == f"ORD-P{PENDING}"  # oldest first: the newest is last on the last page

    open_finder(page)
    page.get_by_label("Order by").select_option("newest")
    page.get_by_role("button", name="Find", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]sort=newest"))
    assert shown_orders(page)[0] == f"ORD-P{PENDING}"

    page.goto(many.url + "/?min_total=50&max_total=250&sort=total")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator(".paging")).to_contain_text("Page 2 of 3")
    filtered, shared_url = shown_orders(page), page.url
    by_total = {order(number)["items"][0]["unit_price"]: f"ORD-P{number}" for number in range(1, PENDING + 1)}
    assert filtered == [by_total[total] for total in range(150, 50, -1)]  # 250 to 151 were on the first page
    colleague = browser.new_context()
    try:
        shared = colleague.new_page()
        shared.goto(shared_url)
        expect(shared.locator("#pending-heading")).to_contain_text(f"({PENDING}, 201 matches, 100 shown)")
        assert shown_orders(shared) == filtered
    finally:
        colleague.close()
