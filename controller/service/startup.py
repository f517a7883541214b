"""What a serving process does once, before it answers: work that must not run when an app is only built."""

from __future__ import annotations

from typing import Any

from flask import Flask
from waitress.server import create_server

from controller.approval import decisions, restart
from controller.service.aws import clients_of
from controller.service.background import Background
from controller.storage import db

SERVER_BODY_CAP_BYTES = 16 * 1024 * 1024


def prepare_to_serve(app: Flask) -> Background | None:
    """Finish decisions a crash left claimed, close pending requests whose executions are gone, then start
    the background work unless it is turned off.

    If AWS is down, the claims are finished later by the background upkeep (or by /pending).
    """
    sfn = clients_of(app)["stepfunctions"]
    with db.connection(app.config["DATABASE"]) as connection:
        decisions.resume_claims(connection, sfn, older_than_seconds=0)
    restart.close_gone(
        lambda: db.connection(app.config["DATABASE"]), sfn, from_emulator=app.config["CONFIG_SOURCE"] == "emulator"
    )
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
