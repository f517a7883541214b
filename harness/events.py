"""A client of a controller's GET /events stream, as the page is: it reads in a thread and keeps every event."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import requests


class EventListener:
    """Reads a controller's /events stream in a thread; keeps every event as (id, kind, data).

    Only the reading thread touches the connection: closing it from another thread could close
    a file descriptor number that the process has meanwhile given to something else.
    """

    def __init__(self, url: str, last_event_id: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.closed = threading.Event()
        sent = {**(headers or {}), **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        threading.Thread(target=self._read, args=(url + "/events", sent), daemon=True).start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            self._record(url, headers)
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
                elif "event" in frame:
                    self.events.append((int(frame.get("id", 0)), frame["event"], json.loads(frame["data"])))
                    frame = {}

    def seen(self, kind: str, request_id: str) -> bool:
        return any(k == kind and data["id"] == request_id for _, k, data in self.events)

    def close(self) -> None:
        """Stop recording; the reading thread ends with the next line or with the stream."""
        self.closed.set()
