"""Refuses state changes that a web page on another site makes the approver's browser send.

The controller listens on localhost, where any page the approver visits can reach it, and
`POST /approve` needs no body. Browsers name the page that sent a request (`Origin`,
`Sec-Fetch-Site`); curl and other clients send neither, so they are unaffected.
"""

from __future__ import annotations

from flask import Flask, request

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


def init_app(app: Flask) -> None:
    """Check every request before its view runs."""
    app.before_request(refuse_cross_site)
