"""Refuses state changes that a web page on another site makes the approver's browser send.

The controller listens on localhost, where any page the approver visits can reach it, and
`POST /approve` needs no body. Browsers name the page that sent a request (`Origin`,
`Sec-Fetch-Site`); curl and other clients send neither, so they are unaffected. The page's
own forms carry a per-session token besides.
"""

from __future__ import annotations

import secrets

from flask import Flask, request, session

from controller.errors import CrossSiteRequest

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def refuse_cross_site() -> None:
    """Raise CrossSiteRequest for a state-changing request sent by another site's page."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if (origin and origin.rstrip("/") != request.host_url.rstrip("/")) or fetch_site not in (
        None,
        "same-origin",
        "none",
    ):
        raise CrossSiteRequest("Decisions can only be sent from this controller's own page or a non-browser client.")


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
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(refuse_cross_site)
