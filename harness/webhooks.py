"""A local webhook endpoint standing in for Slack's incoming webhooks in tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class WebhookReceiver:
    """A local HTTP endpoint that records what it is sent and fails the first `failures` posts; `meanwhile`, when set,
    runs with each body recorded before it is answered (what happens elsewhere while a sender waits)."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = failures
        self.meanwhile: Callable[[dict[str, Any]], None] | None = None
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer one POST as a WSGI app."""
        if self.failures > 0:
            self.failures -= 1
            return Response("busy", status=503)(environ, start_response)
        body = json.loads(Request(environ).get_data())
        self.received.append(body)
        if self.meanwhile is not None:
            self.meanwhile(body)
        return Response("ok")(environ, start_response)

    def for_request(self, request_id: str) -> dict[str, Any] | None:
        """Return the notification received for a request, or None."""
        return next((body for body in self.received if body.get("request_id") == request_id), None)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
