"""What every phase of the approvals benchmark shares: fresh orders, timing, pools, the AWS endpoint."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from bench.latency_proxy import LatencyProxy
from bench.measure import call
from harness.emulator import Emulator
from harness.orders import ITEMS as ORDER_ITEMS

PHASE_TIMEOUT_SECONDS = 300
_order_numbers = itertools.count(1)


def order() -> dict[str, Any]:
    """Return a valid order with a fresh order_id."""
    number = next(_order_numbers)
    return {"order_id": f"BENCH-{number}", "customer": {"id": f"C-{number % 97}", "name": "Ada"}, "items": ORDER_ITEMS}


def timed(durations: list[float], function: Callable[..., Any], *args: Any) -> Any:
    """Call function(*args), append how long it took (seconds) to durations, return its result."""
    began = time.perf_counter()
    result = function(*args)
    durations.append(time.perf_counter() - began)
    return result


@contextmanager
def thread_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool that, unlike `with ThreadPoolExecutor`, drops queued work at once on Ctrl-C or an error."""
    pool = ThreadPoolExecutor(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def post_order(outputs: dict[str, str]) -> Any:
    """POST one order to the emulator's API with its API key; return the answer."""
    return call("POST", outputs["api_url"], order(), headers={"x-api-key": outputs["api_key"]})


@contextmanager
def aws_endpoint(env: Emulator, latency_ms: float) -> Iterator[str]:
    """Yield the AWS endpoint the controller and the floor use: the emulator, behind a delay proxy if asked."""
    if not latency_ms:
        yield env.outputs["aws_endpoint_url"]
        return
    with latency_proxy(env, latency_ms) as proxy:
        yield proxy.url


def latency_proxy(env: Emulator, latency_ms: float) -> LatencyProxy:
    """A proxy in front of the emulator's AWS endpoint that delays each request by latency_ms (0: none)."""
    return LatencyProxy(int(env.outputs["aws_endpoint_url"].rsplit(":", 1)[1]), latency_ms)
