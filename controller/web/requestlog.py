"""One log line per HTTP request (method, path, status, duration, user, request id), and the request id
returned in X-Request-ID.

A request id from a trusted proxy (CONTROLLER_TRUSTED_PROXIES) is kept, so one id follows a request
through the proxy's logs and these; from anyone else, or when malformed, a new one is made. Query values
whose names suggest a secret are never logged, nor any header, cookie or body.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import urlencode

from flask import Flask, Response, g, request

from controller.access import auth

log = logging.getLogger("controller.http")
HEADER = "X-Request-ID"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SECRET_NAME = re.compile(r"token|password|passwd|secret|key|auth|session|csrf|signature|credential", re.IGNORECASE)
REDACTED = "[redacted]"


def _request_id() -> str:
    offered = request.headers.get(HEADER, "")
    if offered and auth.from_proxy_address() and REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def logged_path() -> str:
    """Return the request's path and query, each query value whose name suggests a secret replaced."""
    if not request.args:
        return request.path
    query = [(name, REDACTED if SECRET_NAME.search(name) else value) for name, value in request.args.items(multi=True)]
    return f"{request.path}?{urlencode(query)}"


def start() -> None:
    """Time the request and give it its id, before any check can refuse it."""
    g.request_started = time.perf_counter()
    g.request_id = _request_id()


def finish(response: Response) -> Response:
    """Log the request and return its id to the caller."""
    response.headers[HEADER] = g.request_id
    user = auth.current_user()
    fields = {
        "method": request.method,
        "path": logged_path(),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 3),
        "user": user.name if user else None,
        "address": auth.client_address(),
    }
    log.info("%s %s %s", fields["method"], fields["path"], fields["status"], extra={"http": fields})
    return response


def init_app(app: Flask) -> None:
    """Log every request; registered first, so that refused requests are logged and carry an id too."""
    app.before_request(start)
    app.after_request(finish)
