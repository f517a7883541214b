"""GET /events: a Server-Sent Events stream of requests being stored and changing state.

The stream reads the store's event log, which records every change, so it sees
what the background worker, another request or another thread did. Each event's id is its
number in that log: a browser that reconnects sends Last-Event-ID and misses nothing that
is still kept. A stream ends after a while and the browser reconnects, so no server thread
is held for long. Streams hold server threads, so they are limited overall and per caller (a
user, or in local mode an address); a heartbeat every few seconds finds a client that went away,
since a write to its closed connection fails, and frees its thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import closing

from flask import Blueprint, Flask, Response, current_app, request, stream_with_context

from controller.access import auth
from controller.core.errors import InvalidInput, TooManyStreams
from controller.service.aws import aws_slots
from controller.storage.context import backend_of, get_store
from controller.storage.interface import Backend

bp = Blueprint("events", __name__)
POLL_SECONDS = 0.1
STREAM_SECONDS = 25.0
HEARTBEAT_SECONDS = 2.0  # the second write after a client has gone fails, so a gone client is found in ~4 s
RECONNECT_MILLISECONDS = 1000


def _start_after() -> int:
    """Return the last event the client has: Last-Event-ID or ?after=, else now (only new events)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("after")
    if raw is None:
        return get_store().event_range()[1]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("Last-Event-ID and 'after' must be an event number.")
    return int(raw)


def _frame(event: str, data: dict[str, str], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def stream(backend: Backend, after: int, seconds: float = STREAM_SECONDS) -> Iterator[str]:
    """Yield SSE frames for the changes after event `after`, for `seconds`."""
    with closing(backend.open()) as store:  # closed when the stream ends or the client goes
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        oldest, newest = store.event_range()
        if after > newest or (oldest and after < oldest - 1):
            # older than what is kept, or from another database: the page must reload its lists
            yield _frame("reset", {"reason": "the events since the last one seen are not kept; reload the lists"})
            after = newest
        deadline, quiet_since = time.monotonic() + seconds, time.monotonic()
        while time.monotonic() < deadline:
            events = store.events_after(after)
            for event in events:
                after = event.seq
                yield _frame(event.kind, {"id": event.request_id, "state": event.state}, after)
            if events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                yield ": still here\n\n"  # a comment: finds a gone client, and keeps proxies from closing the stream
                quiet_since = time.monotonic()
            else:
                time.sleep(POLL_SECONDS)


class StreamSlots:
    """Server threads for streams: at most `total` at once, and at most `per_caller` for one caller."""

    def __init__(self, total: int, per_caller: int) -> None:
        self.total, self.per_caller = total, per_caller
        self.held: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, caller: str) -> None:
        """Take a slot for the caller; TooManyStreams when theirs or everyone's are taken."""
        with self.lock:
            if self.held.get(caller, 0) >= self.per_caller:
                raise TooManyStreams(
                    f"You have {self.per_caller} live stream(s) open already (another tab?); this page keeps"
                    " itself current by refreshing."
                )
            if sum(self.held.values()) >= self.total:
                raise TooManyStreams("Too many live streams are open; the page keeps itself current by refreshing.")
            self.held[caller] = self.held.get(caller, 0) + 1

    def give_back(self, caller: str) -> None:
        with self.lock:
            self.held[caller] -= 1
            if not self.held[caller]:
                del self.held[caller]


@bp.get("/events")
def events() -> Response:
    """Stream `stored` and `changed` events ({"id", "state"}), each with its number as the SSE id.

    Each stream holds a server thread; past its share of them (see init_app), 503: the page then
    refreshes on a timer.
    """
    slots: StreamSlots = current_app.extensions["event_streams"]
    after = _start_after()
    user = auth.current_user()
    caller = f"user:{user.name}" if user else f"address:{auth.client_address()}"
    slots.take(caller)

    open_streams = current_app.extensions["metrics"].event_streams

    def frames() -> Iterator[str]:
        open_streams.inc()
        try:
            yield from stream(backend_of(current_app), after)
        finally:
            open_streams.dec()
            slots.give_back(caller)

    return Response(
        stream_with_context(frames()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def init_app(app: Flask) -> None:
    """Serve /events with the threads that may not wait on AWS, but one (3 of 8), and all but one of those for
    one caller (a reconnecting page, or two tabs, but never every slot)."""
    total = max(1, app.config["THREADS"] - aws_slots(app.config) - 1)
    app.extensions["event_streams"] = StreamSlots(total, per_caller=max(1, total - 1))
    app.register_blueprint(bp)
