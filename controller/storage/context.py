"""The store of the current request: opened on first use, closed when the request's context ends."""

from __future__ import annotations

from flask import Flask, current_app, g

from controller.storage.interface import Backend, Store


def backend_of(app: Flask) -> Backend:
    """Return the app's backend, for work of its own outside a request (a bulk decision's threads)."""
    backend: Backend = app.extensions["store"]
    return backend


def get_store() -> Store:
    """Return the store the current request uses."""
    if "store" not in g:
        g.store = backend_of(current_app).open()
    store: Store = g.store
    return store


def close_store(_error: BaseException | None = None) -> None:
    """Close the request's store, if it opened one."""
    store: Store | None = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask, backend: Backend) -> None:
    """Give the app its backend; close each request's store on teardown. No I/O: migrations run at start-up."""
    app.extensions["store"] = backend
    app.teardown_appcontext(close_store)
