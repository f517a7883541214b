"""A client of a controller's GET /events stream, as the page's EventSource is: it reads in a thread, keeps every
event and, when a stream ends, reconnects with the last id it saw, until it is closed."""

from __future__ import annotations

import json
import threading
from typing import Any, NamedTuple

import requests


class Event(NamedTuple):
    """One event as the stream sent it: its SSE id, its kind and its data."""

    id: int
    kind: str
    data: dict[str, Any]


class EventListener:
    """Reads a controller's /events stream in a thread; keeps every event.

    Only the reading thread touches the connection: closing it from another thread could close
    a file descriptor number that the process has meanwhile given to something else.
    """

    def __init__(self, url: str, last_event_id: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.events: list[Event] = []
        self.closed = threading.Event()
        self.last_event_id = last_event_id
        threading.Thread(target=self._read, args=(url + "/events", headers or {}), daemon=True).start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            while not self.closed.is_set():
                resumed = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
                self._record(url, {**headers, **resumed})
        except requests.RequestException:
            if not self.closed.is_set():  # after close, the server stopping cuts the stream: expected
                raise

    def _record(self, url: str, headers: dict[str, str]) -> None:
        frame: dict[str, str] = {}
        with requests.get(url, stream=True, timeout=60, headers=headers) as response:
            for line in response.iter_lines(decode_unicode=True):
                if self.closed.is_set():
                    return
                if line:
                    field, _, value = line.partition(": ")
                    frame[field] = value
                else:  # a blank line ends a frame: an event, or the retry time or a comment
                    if "event" in frame:
                        self.events.append(Event(int(frame.get("id", 0)), frame["event"], json.loads(frame["data"])))
                        self.last_event_id = frame.get("id", self.last_event_id)
                    frame = {}

    def seen(self, kind: str, request_id: str, state: str | None = None) -> bool:
        """Whether an event of this kind (and state) about the request came."""
        wanted = (kind, request_id, state)
        return any((e.kind, e.data.get("id"), state and e.data.get("state")) == wanted for e in self.events)

    def close(self) -> None:
        """Stop recording; the reading thread ends with the next line or with the stream."""
        self.closed.set()
