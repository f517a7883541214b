"""Small waits and ports: what every process-driving test and benchmark needs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_ports(count: int) -> int:
    """Return the first of `count` consecutive loopback TCP ports that nobody listens on right now."""
    while True:
        first = free_port()
        if first + count - 1 <= 65535 and all(_bindable(port) for port in range(first + 1, first + count)):
            return first


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll check() until it returns something truthy and return that; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
