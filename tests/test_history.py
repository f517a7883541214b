"""GET /history and /history.csv over real HTTP: ended requests filtered, paged, linked, and exported."""

from __future__ import annotations

import csv
import io

import pytest

from controller.core import states
from controller.storage.sqlite import SqliteBackend
from controller.web.history import COLUMNS
from harness.orders import ORDER
from harness.store_records import new_request

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


def order(order_id: str, customer: str) -> dict:
    return {**ORDER, "order_id": order_id, "customer": {"id": f"C-{order_id}", "name": customer}}


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
    assert tuple(reader.fieldnames) == COLUMNS
    return list(reader)


@pytest.fixture
def decided(stack, controller):
    """Two approved orders (one from a customer whose name is a spreadsheet formula) and one rejected."""
    names = {
        "approved": [stack.start(order("ORD-A1", "Ada Lovelace")), stack.start(order("ORD-A2", FORMULA_NAME))],
        "rejected": [stack.start(order("ORD-R1", "Grace Hopper"))],
    }
    for name in names["approved"] + names["rejected"]:
        controller.wait_for_pending(name)
    for name in names["approved"]:
        assert controller.post(f"/approve/{name}", {"approver": "Edsger"}).status_code == 200
    assert controller.post(f"/reject/{names['rejected'][0]}", {"reason": "-1 in stock"}).status_code == 200
    return names


def test_the_csv_holds_every_ended_request_with_formulas_neutralised(controller, decided):
    exported = rows(controller.get("/history.csv"))

    assert {row["order_id"] for row in exported} == {"ORD-A1", "ORD-A2", "ORD-R1"}
    by_order = {row["order_id"]: row for row in exported}
    assert by_order["ORD-A2"]["customer_name"] == "'" + FORMULA_NAME
    assert by_order["ORD-R1"]["reason"] == "'-1 in stock"
    assert by_order["ORD-A1"]["outcome"] == "approved" and by_order["ORD-A1"]["approver"] == "Edsger"
    assert by_order["ORD-A1"]["total"] == "28.0" and by_order["ORD-A1"]["request_id"] == decided["approved"][0]


def test_the_csv_takes_the_history_filters(controller, decided):
    assert {row["order_id"] for row in rows(controller.get("/history.csv?outcome=rejected"))} == {"ORD-R1"}
    assert {row["order_id"] for row in rows(controller.get("/history.csv?customer=lovelace"))} == {"ORD-A1"}
    assert rows(controller.get("/history.csv?to=2000-01-01")) == []
    assert len(rows(controller.get("/history.csv?approver=edsger&outcome=approved"))) == 2


def test_the_history_page_filters_pages_and_links_each_request_to_its_record_and_audit_trail(controller, decided):
    page = controller.get("/history?outcome=approved&per=1")

    assert page.status_code == 200
    assert "History: requests that ended (2)" in page.text
    assert page.text.count('<tr data-id="') == 1
    assert "Page 1 of 2" in page.text and "page=2" in page.text
    shown = decided["approved"][1]  # latest ended first
    assert f'href="/approvals/{shown}"' in page.text and f'href="/approvals/{shown}/audit"' in page.text
    second = controller.get("/history?outcome=approved&per=1&page=2")
    assert f'<tr data-id="{decided["approved"][0]}"' in second.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("outcome=pending", "'outcome' must be one of approved, rejected, expired, closed"),
        ("from=yesterday", "'from' must be a date, YYYY-MM-DD."),
        ("page=0", "'page' must be a whole number"),
        ("per=100000", "'per' must be a whole number from 1 to 500."),
        ("sort=random", "'sort' must be one of ended, newest, waiting, total."),
        ("q=" + "x" * 101, "'q' must be at most 100 characters."),
    ],
)
def test_a_bad_filter_gets_a_json_error_that_names_it(controller, query, message):
    for path in ("/history", "/history.csv"):
        response = controller.get(f"{path}?{query}")
        assert response.status_code == 400
        assert response.json()["error"] == "InvalidInput" and message in response.json()["message"]


def test_a_large_history_is_streamed_in_chunks_not_sent_in_one_piece(controller):
    store = SqliteBackend(controller.app.config["DATABASE"]).open()
    try:
        for _ in range(1200):
            request = new_request()
            store.save_request(request)
            store.finish(request.id, states.CLOSED, "The execution no longer exists.", from_state=states.PENDING)
    finally:
        store.close()

    response = controller.get("/history.csv?outcome=closed")

    assert "Content-Length" not in response.headers and response.headers.get("Transfer-Encoding") == "chunked"
    assert len(rows(response)) == 1200
