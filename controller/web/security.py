"""The controller's edges: which host names it answers to, which pages may send it decisions, the
page's CSRF tokens, the headers on every response and the largest body it reads.

Host names: a page whose name an attacker points at 127.0.0.1 (DNS rebinding) is, to the
browser, of the same origin as the controller. So only 127.0.0.1, localhost and [::1] on the
port served, and the names in CONTROLLER_ALLOWED_HOSTS, are answered; anything else gets 400
before any view runs.

Cross-site requests: the controller listens where any page the approver visits can reach it,
and `POST /approve` needs no body. Browsers name the page that sent a request (`Origin`,
`Sec-Fetch-Site`); the Origin must be one of the allowed names above, never merely agree with
the request's own Host. curl and other clients send neither, so they are unaffected. The page's
own forms carry a per-session token besides.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from controller.core.errors import CrossSiteRequest, UnknownHost

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
DEFAULT_PORTS = {"http": "80", "https": "443"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null, which is refused
    "Cache-Control": "no-store",  # order data must not stay in a shared or browser cache
}


def _split(netloc: str, scheme: str) -> tuple[str, str]:
    """Return (name, port) of a Host header or an Origin's netloc, the port defaulted from the scheme."""
    name, colon, port = netloc.lower().rpartition(":")
    if not colon or name.endswith("[") or "]" in port:  # no port, or only an IPv6 literal's colons
        name, port = netloc.lower(), DEFAULT_PORTS.get(scheme, "")
    return name, port


def host_allowed(netloc: str, scheme: str, origin: bool = False) -> bool:
    """Return whether a host[:port] names this controller: loopback on the port served, or a configured name.

    In a Host header a name listed alone allows any port (a proxy may or may not forward it). An
    Origin is a whole site, port included: a name listed alone allows only its scheme's default
    port there, and another port must be listed as name:port, since a page on another port of the
    same name is another site.
    """
    name, port = _split(netloc, scheme)
    if name in LOOPBACK_NAMES and port == request.environ.get("SERVER_PORT"):
        return True
    configured = [entry.strip().lower() for entry in current_app.config["ALLOWED_HOSTS"].split(",") if entry.strip()]
    if f"{name}:{port}" in configured:
        return True
    return name in configured and (not origin or port == DEFAULT_PORTS.get(scheme))


def refuse_unknown_host() -> None:
    """Raise UnknownHost for a request whose Host is not one of this controller's names."""
    if not host_allowed(request.host, request.scheme):
        raise UnknownHost(
            "This controller does not answer to that host name. Use 127.0.0.1, localhost or [::1] with its port,"
            " or add the name to CONTROLLER_ALLOWED_HOSTS."
        )


def _origin_allowed(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in DEFAULT_PORTS and host_allowed(parts.netloc, parts.scheme, origin=True)


def refuse_cross_site() -> None:
    """Raise CrossSiteRequest for a state-changing request sent by another site's page."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if (origin is not None and not _origin_allowed(origin)) or fetch_site not in (None, "same-origin", "none"):
        raise CrossSiteRequest("Decisions can only be sent from this controller's own page or a non-browser client.")


def refuse_large_body() -> None:
    """Answer 413 before reading a body larger than CONTROLLER_MAX_BODY_BYTES, whatever the route."""
    if (request.content_length or 0) > current_app.config["MAX_BODY_BYTES"]:
        raise RequestEntityTooLarge(f"The body must be at most {current_app.config['MAX_BODY_BYTES']} bytes.")


def secure_headers(response: Response) -> Response:
    """Put the security headers on every response: pages, JSON, errors and static files."""
    response.headers.update(HEADERS)
    return response


def csrf_token() -> str:
    """Return this session's form token, making it on first use."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    token: str = session["csrf_token"]
    return token


def csrf_ok() -> bool:
    """Return whether the posted form carries this session's token."""
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf_token", "")
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


def init_app(app: Flask) -> None:
    """Check every request before its view runs; give the page's templates their form token."""
    if not app.config["SECRET_KEY"]:
        # a random key per process: a restart only asks the approver to reload the page
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        MAX_CONTENT_LENGTH=app.config["MAX_BODY_BYTES"],  # a chunked body without a length stops there too
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(refuse_unknown_host)
    app.before_request(refuse_large_body)
    app.before_request(refuse_cross_site)
    app.after_request(secure_headers)
