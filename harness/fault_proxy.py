"""An HTTP proxy in front of the emulator that can make one AWS service unreachable while the others answer.

A controller whose AWS endpoint is this proxy reaches SQS, Step Functions and DynamoDB through it. Each
call names its service in X-Amz-Target (`DynamoDB_20120810.GetItem`, `AmazonSQS.ReceiveMessage`, ...);
while a service is cut off, its calls never reach the emulator: either each is held unanswered until the
outage ends and its connection then closed (a black hole, which only the caller's timeout ends), or its
connection is closed at once without an answer (a refusal).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import urlsplit

DYNAMODB = "DynamoDB_"  # the X-Amz-Target prefix of every DynamoDB call
HANG, REFUSE = "hang", "refuse"
FORWARD_TIMEOUT_SECONDS = 60  # longer than the emulator's slowest answer: the long poll's wait and more
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class Answer(NamedTuple):
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class FaultProxy:
    """Forwards every call to the emulator at target_url, but those of a service cut off by outage()."""

    def __init__(self, target_url: str) -> None:
        target = urlsplit(target_url)
        self.target = (target.hostname or "127.0.0.1", target.port or 80)
        self.mode: str | None = None
        self.service = DYNAMODB
        self.over = threading.Event()
        self.lock = threading.Lock()
        self.cut_off = 0  # calls that did not reach the emulator because of an outage
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @contextmanager
    def outage(self, mode: str = HANG, service: str = DYNAMODB) -> Iterator[None]:
        """Cut the service off for the block (HANG or REFUSE); calls held meanwhile are dropped at its end."""
        with self.lock:
            self.over.clear()
            self.mode, self.service = mode, service
        try:
            yield
        finally:
            with self.lock:
                self.mode = None
            self.over.set()

    def refused(self, target: str) -> str | None:
        """The outage's mode if a call to this X-Amz-Target is cut off now (and count it), else None."""
        with self.lock:
            if self.mode is None or not target.startswith(self.service):
                return None
            self.cut_off += 1
            return self.mode

    def forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        """Send the call to the emulator as it came, Host and signature included; return its answer."""
        connection = http.client.HTTPConnection(*self.target, timeout=FORWARD_TIMEOUT_SECONDS)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            answer = connection.getresponse()
            kept = [(name, value) for name, value in answer.getheaders() if name.lower() not in HOP_BY_HOP]
            return Answer(answer.status, answer.reason, kept, answer.read())
        finally:
            connection.close()

    def close(self) -> None:
        self.over.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            mode = proxy.refused(self.headers.get("X-Amz-Target", ""))
            if mode is not None:
                if mode == HANG:
                    proxy.over.wait()
                self.close_connection = True  # no answer at all: the caller sees its connection end
                return
            try:
                answer = proxy.forward(self.command, self.path, list(self.headers.items()), body)
            except (OSError, http.client.HTTPException):  # the emulator's own failure reaches the caller as one
                self.close_connection = True
                return
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = _relay

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read the controller's log, not the proxy's."""

    return Handler
