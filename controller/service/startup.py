"""What a serving process does once, before it answers: work that must not run when an app is only built."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from flask import Flask
from waitress.server import create_server

from controller.access import auth
from controller.approval import decisions
from controller.service.aws import clients_of
from controller.service.background import Background
from controller.storage.context import backend_of

SERVER_BODY_CAP_BYTES = 16 * 1024 * 1024


def prepare_to_serve(app: Flask) -> Background | None:
    """Bring the store's schema up to date, refuse a bind that needs users while there are none, finish
    decisions a crash left claimed, then start the background work unless it is turned off.

    ConfigurationError when the store or the bind cannot be served. If AWS is down, the claims are
    finished later by the background upkeep (or by /pending).
    """
    backend = backend_of(app)
    backend.migrate()
    auth.check_bind(app)
    with closing(backend.open()) as store:
        decisions.resume_claims(store, clients_of(app)["stepfunctions"], older_than_seconds=0)
    if not app.config["BACKGROUND"]:
        return None
    background = Background(app)
    background.start()
    app.extensions["background"] = background
    return background


def wsgi_server(app: Flask, port: int | None = None) -> Any:
    """Return the production server (waitress) for app on HOST and PORT, or on `port` (0: any free one).

    It keeps connections alive and serves from a fixed pool of CONTROLLER_THREADS threads; each open
    /events stream holds one of them while it lasts.
    """
    return create_server(
        app,
        host=app.config["HOST"],
        port=app.config["PORT"] if port is None else port,
        threads=app.config["THREADS"],
        asyncore_use_poll=True,  # select() stops working past file descriptor 1023
        # up to this size the app itself answers 413, in JSON; waitress refuses larger bodies before
        # buffering them, and spools what it does buffer beyond 512 KiB to disk, so memory stays bounded
        max_request_body_size=max(SERVER_BODY_CAP_BYTES, 2 * app.config["MAX_BODY_BYTES"]),
    )
