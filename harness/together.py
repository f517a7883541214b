"""Several controllers doing the same thing at once: threads with stores of their own, released together."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

from controller.storage.interface import Backend, Store

AT_ONCE = 8


def all_at_once(backend: Backend, work: Callable[[Store, Any], Any], items: list[Any]) -> list[Any]:
    """Run work(store, item) for each item in a thread of its own, each on a store of its own, all released
    together once every one is ready; return the results in the items' order."""
    ready = Barrier(len(items))

    def each(item: Any) -> Any:
        store = backend.open()
        try:
            ready.wait()
            return work(store, item)
        finally:
            store.close()

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(each, items))


def at_the_same_moment(*calls: Callable[[], Any]) -> list[Any]:
    """Make the calls (HTTP requests to several controllers, say) in threads of their own, released together
    once every thread is ready; return their results in order."""
    ready = Barrier(len(calls))

    def each(call: Callable[[], Any]) -> Any:
        ready.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(each, calls))
