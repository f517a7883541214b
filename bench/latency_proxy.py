"""A TCP proxy on loopback that delays each chunk by a fixed time, standing in for the round trip to AWS.

Each chunk a client sends is forwarded `delay` seconds after it arrived, in order, so a request
and its answer cost one `delay` more than without the proxy, whatever else is in flight.

It also counts what passes: the requests per operation (the X-Amz-Target header that AWS's JSON
protocols, DynamoDB's, SQS's and Step Functions', name the operation in), the answers per error
type (their `__type`), and the seconds each operation waited behind the proxy for its answer, so
every process behind it is counted at one place.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import Counter, deque
from types import TracebackType

CHUNK = 65536
OPERATION = re.compile(rb"\r\nX-Amz-Target: *([\w.]+)\r\n", re.IGNORECASE)  # DynamoDB_20120810.GetItem
ERROR_TYPE = re.compile(rb'"__type": *"(?:[\w.]*#)?(\w+)"')  # ...#TransactionCanceledException
OVERLAP = 256  # bytes of one chunk kept for the next: a header cut between two chunks is still found once


class Tally:
    """Counts one pattern's first group over the streams it is fed, under one lock; each stream is scanned
    with the end of its previous chunk, and a match is counted once, in the chunk that completes it."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def scanner(self) -> StreamScanner:
        return StreamScanner(self)

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


class StreamScanner:
    """One stream's view of a Tally: what is left of its previous chunk."""

    def __init__(self, tally: Tally) -> None:
        self.tally, self.tail = tally, b""

    def feed(self, data: bytes) -> list[str]:
        """Count the matches this chunk completes; return them."""
        text = self.tail + data
        found = [m.group(1).decode() for m in self.tally.pattern.finditer(text) if m.end() > len(self.tail)]
        self.tail = text[-OVERLAP:]
        if found:
            with self.tally.lock:
                self.tally.counts.update(found)
        return found


class Waits:
    """Seconds per operation from a request's forwarding (after the delay) until the first bytes of its answer:
    the time spent at the emulator, its lock and queue included. HTTP/1.1 clients such as botocore send one
    request at a time on a connection, so each answer is the last forwarded request's."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.lock = threading.Lock()

    def connection(self) -> ConnectionWaits:
        return ConnectionWaits(self)

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.seconds)

    def reset(self) -> None:
        with self.lock:
            self.seconds.clear()


class ConnectionWaits:
    """One connection's request waiting for its answer, if any."""

    def __init__(self, waits: Waits) -> None:
        self.waits, self.waiting = waits, ("", 0.0)

    def forwarded(self, operation: str) -> None:
        self.waiting = (operation, time.monotonic())  # before the request is sent on: no answer can come first

    def answered(self) -> None:
        (operation, since), self.waiting = self.waiting, ("", 0.0)
        if operation:
            with self.waits.lock:
                self.waits.seconds[operation] += time.monotonic() - since


class LatencyProxy:
    """Listens on 127.0.0.1 and forwards to target_port, adding `delay_ms` to each request."""

    def __init__(self, target_port: int, delay_ms: float) -> None:
        self.target = ("127.0.0.1", target_port)
        self.delay = delay_ms / 1000
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
        self.operations, self.errors, self.waits = Tally(OPERATION), Tally(ERROR_TYPE), Waits()
        self.sockets: list[socket.socket] = []  # every connection's two ends, closed with the proxy
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target)
            except OSError:  # the emulator is gone (the run is ending): refuse this client too
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sockets += (client, server)
            waits = self.waits.connection()
            threading.Thread(target=self._delayed_pipe, args=(client, server, waits), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(server, client, self.errors.scanner(), waits), daemon=True
            ).start()

    def _delayed_pipe(self, source: socket.socket, sink: socket.socket, waits: ConnectionWaits) -> None:
        """Forward source to sink, each chunk `delay` after it arrived."""
        pending: deque[tuple[float, bytes, list[str]]] = deque()
        ready = threading.Condition()

        def send_when_due() -> None:
            while True:
                with ready:
                    ready.wait_for(lambda: pending)
                    due, data, operations = pending.popleft()
                if not data:
                    with contextlib.suppress(OSError):  # the other side may be gone already
                        sink.shutdown(socket.SHUT_WR)
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                if operations:
                    waits.forwarded(operations[-1])
                try:
                    sink.sendall(data)
                except OSError:
                    return

        threading.Thread(target=send_when_due, daemon=True).start()
        requests = self.operations.scanner()
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            operations = requests.feed(data)
            with ready:
                pending.append((time.monotonic() + self.delay, data, operations))
                ready.notify()
            if not data:
                return

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, answers: StreamScanner, waits: ConnectionWaits) -> None:
        while True:
            try:
                data = source.recv(CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                waits.answered()
                answers.feed(data)
                sink.sendall(data)
            except OSError:
                return

    def reset_counts(self) -> None:
        """Count from now on."""
        self.operations.reset()
        self.errors.reset()
        self.waits.reset()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        for sock in self.sockets:  # the pipes still reading them see them closed and end
            sock.close()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
