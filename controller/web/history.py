"""The history of ended requests, for approvers and auditors: a filtered, paged page (GET /history) and the
same list as CSV (GET /history.csv), streamed row by row so that any number of rows fits in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Blueprint, Flask, Response, render_template, stream_with_context

from controller.core.jsontypes import JSON
from controller.storage.records import ApprovalRequest
from controller.web import finding, listing

bp = Blueprint("history", __name__)
PER_PAGE, MAX_PER_PAGE = 50, 500
CSV_BATCH = 500  # rows per chunk sent
COLUMNS = (
    "request_id", "order_id", "customer_id", "customer_name", "total", "currency", "outcome", "approver",
    "comment", "reason", "closed_reason", "requested_at", "decided_at", "expires_at",
)  # fmt: skip
# a spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection; ASVS 1.2.10 names
# the null character too, which some spreadsheets skip before reading the rest as a formula)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralised(value: JSON) -> JSON:
    """Return a cell as a spreadsheet shows it without running it: text that starts a formula gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def row_of(request: ApprovalRequest) -> list[JSON]:
    """Return the CSV row of an ended request, in COLUMNS' order."""
    order, decision = request.order, request.decision
    customer = order.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    cells = [
        request.id, order.get("order_id"), customer.get("id"), customer.get("name"), order.get("total"),
        order.get("currency"), request.state, decision.approver if decision else None,
        decision.comment if decision else None, decision.reason if decision else None, request.closed_reason,
        request.requested_at, request.decided_at, request.expires_at,
    ]  # fmt: skip
    return [neutralised(cell) for cell in cells]


def csv_chunks(requests: Iterable[ApprovalRequest]) -> Iterator[str]:
    """Yield the CSV text, a header row then CSV_BATCH rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for number, request in enumerate(requests, start=1):
        writer.writerow(row_of(request))
        if number % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/history")
def history() -> str:
    """Show the ended requests that match the URL's filters, a page at a time, latest first."""
    found = finding.history(PER_PAGE, MAX_PER_PAGE)
    store = listing.open_store()
    try:
        matched = store.count_requests(found.query)
        ended = store.find_requests(found.query, found.per, found.offset)
    finally:
        store.close()
    return render_template("history.html", found=found, matched=matched, ended=ended, page_args=finding.page_args)


@bp.get("/history.csv")
def history_csv() -> Response:
    """Return every ended request that matches the URL's filters as CSV (all pages), streamed."""
    query = finding.history(PER_PAGE, MAX_PER_PAGE).query

    def body() -> Iterator[str]:
        store = listing.open_store()
        try:
            yield from csv_chunks(store.iter_requests(query))
        finally:
            store.close()

    return Response(
        stream_with_context(body()),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="approval-history.csv"'},
    )


def init_app(app: Flask) -> None:
    """Serve the history."""
    app.register_blueprint(bp)
