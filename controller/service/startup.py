"""What a serving process does once, before it answers: work that must not run when an app is only built."""

from __future__ import annotations

import logging
import resource
import time
from contextlib import closing
from typing import Any

from flask import Flask
from waitress.server import create_server

from controller.approval import decisions, restart
from controller.core.config import ConfigurationError
from controller.service.aws import clients_of
from controller.service.background import Background
from controller.storage.context import backend_of

SERVER_BODY_CAP_BYTES = 16 * 1024 * 1024
FILES_BESIDES_CONNECTIONS = 64  # the database, its journal, AWS connections, logs
QUEUE_WARNING_SECONDS = 60.0


class OncePerInterval(logging.Filter):
    """Let a record through at most once per interval, saying how many were held back since the last one.

    waitress warns "Task queue depth is N" for every request that waits for a thread, which under
    load is thousands of lines a minute saying one thing.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.last, self.held = seconds, -seconds, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if time.monotonic() - self.last < self.seconds:
            self.held += 1
            return False
        if self.held:
            record.msg = f"{record.msg} ({self.held} such warnings in the last {self.seconds:.0f} s held back)"
        self.last, self.held = time.monotonic(), 0
        return True


def _rate_limit_queue_warning() -> None:
    queue_log = logging.getLogger("waitress.queue")
    if not any(isinstance(known, OncePerInterval) for known in queue_log.filters):
        queue_log.addFilter(OncePerInterval(QUEUE_WARNING_SECONDS))


def _allow_open_files(connection_limit: int) -> None:
    """Raise this process's open-file limit to what the connection limit needs, or say why it cannot be."""
    needed = connection_limit + FILES_BESIDES_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise ConfigurationError(
                f"CONTROLLER_CONNECTION_LIMIT={connection_limit} needs {needed} open files, and this process may"
                f" open only {hard} (ulimit -Hn): lower the limit or raise the system's."
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def prepare_to_serve(app: Flask) -> Background | None:
    """Bring the store's schema up to date, finish decisions a crash left claimed, close pending requests
    whose executions are gone, then start the background work unless it is turned off.

    ConfigurationError when the store cannot be served. If AWS is down, the claims are
    finished later by the background upkeep (or by /pending).
    """
    backend, sfn = backend_of(app), clients_of(app)["stepfunctions"]
    backend.migrate()
    with closing(backend.open()) as store:
        # alone on its store, every claim is one a crash left; on a shared one, another controller may be
        # sending its decision right now: only claims older than any decision takes are left over
        left_over = app.config["CLAIM_STALE_SECONDS"] if backend.shared else 0
        decisions.resume_claims(store, sfn, older_than_seconds=left_over)
    restart.close_gone(backend, sfn, from_emulator=app.config["CONFIG_SOURCE"] == "emulator")
    if not app.config["BACKGROUND"]:
        return None
    background = Background(app)
    background.start()
    app.extensions["background"] = background
    return background


def wsgi_server(app: Flask, port: int | None = None) -> Any:
    """Return the production server (waitress) for app on HOST and PORT, or on `port` (0: any free one).

    It keeps connections alive and serves from a fixed pool of CONTROLLER_THREADS threads; each open
    /events stream holds one of them while it lasts. Up to CONTROLLER_CONNECTION_LIMIT connections
    are open at once, each closed after CONTROLLER_IDLE_TIMEOUT_SECONDS without a request; slow
    clients cost a connection each, not a thread, since waitress reads whole requests before a
    thread runs them. Forwarding headers reach the app untouched, which believes them only from
    CONTROLLER_TRUSTED_PROXIES (waitress's own handling trusts a single address, and by default
    deletes X-Forwarded-For before the app could see who the client was).
    """
    _allow_open_files(app.config["CONNECTION_LIMIT"])
    _rate_limit_queue_warning()
    return create_server(
        app,
        host=app.config["HOST"],
        port=app.config["PORT"] if port is None else port,
        threads=app.config["THREADS"],
        asyncore_use_poll=True,  # select() stops working past file descriptor 1023
        # up to this size the app itself answers 413, in JSON; waitress refuses larger bodies before
        # buffering them, and spools what it does buffer beyond 512 KiB to disk, so memory stays bounded
        max_request_body_size=max(SERVER_BODY_CAP_BYTES, 2 * app.config["MAX_BODY_BYTES"]),
        connection_limit=app.config["CONNECTION_LIMIT"],
        channel_timeout=app.config["IDLE_TIMEOUT_SECONDS"],
        cleanup_interval=max(1, app.config["IDLE_TIMEOUT_SECONDS"] // 3),
        clear_untrusted_proxy_headers=False,
    )
