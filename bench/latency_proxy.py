"""A TCP proxy on loopback that delays each chunk by a fixed time, standing in for the round trip to AWS.

Each chunk a client sends is forwarded `delay` seconds after it arrived, in order, so a request
and its answer cost one `delay` more than without the proxy, whatever else is in flight.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from types import TracebackType

CHUNK = 65536


class LatencyProxy:
    """Listens on 127.0.0.1 and forwards to target_port, adding `delay_ms` to each request."""

    def __init__(self, target_port: int, delay_ms: float) -> None:
        self.target = ("127.0.0.1", target_port)
        self.delay = delay_ms / 1000
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
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
            threading.Thread(target=self._delayed_pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _delayed_pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """Forward source to sink, each chunk `delay` after it arrived."""
        pending: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()

        def send_when_due() -> None:
            while True:
                with ready:
                    ready.wait_for(lambda: pending)
                    due, data = pending.popleft()
                if not data:
                    with contextlib.suppress(OSError):  # the other side may be gone already
                        sink.shutdown(socket.SHUT_WR)
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    sink.sendall(data)
                except OSError:
                    return

        threading.Thread(target=send_when_due, daemon=True).start()
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            with ready:
                pending.append((time.monotonic() + self.delay, data))
                ready.notify()
            if not data:
                return

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
