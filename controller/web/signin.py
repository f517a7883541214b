"""The sign-in form, signing out, and the health check: the routes that need no identity."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from controller.access import auth
from controller.core.errors import TooManyAttempts
from controller.storage.context import backend_of
from controller.web.security import csrf_ok

bp = Blueprint("signin", __name__)
# a path of this site: no scheme, no "//host", no backslash or whitespace a browser would skip over
LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def _next_page() -> str:
    """Return where to go after signing in: a path on this controller only, never another site."""
    target = request.values.get("next", "")
    return target if LOCAL_PATH.fullmatch(target) else url_for("pages.index")


@bp.get("/signin")
def sign_in_form() -> ResponseReturnValue:
    """Show the sign-in form (the page redirects here while no one is signed in)."""
    return render_template("signin.html", next=_next_page(), name="")


@bp.post("/signin")
def sign_in() -> ResponseReturnValue:
    """Check a name and password; sign the browser session in, or say why not (429 while locked out)."""
    if not csrf_ok():
        return render_template("refused.html"), 403
    name = request.form.get("name", "").strip()
    try:
        user = auth.sign_in(name, request.form.get("password", ""))
    except TooManyAttempts as error:
        return render_template("signin.html", next=_next_page(), error=error.message, name=name), 429, error.headers
    if user is None:
        return render_template("signin.html", next=_next_page(), error="Wrong name or password.", name=name), 401
    flash(f"Signed in as {user.name}.", "success")
    return redirect(_next_page(), code=303)


@bp.post("/signout")
def sign_out() -> ResponseReturnValue:
    """End the user's page sessions, on this browser and every other."""
    if csrf_ok():
        auth.end_sessions()
    return redirect(url_for("signin.sign_in_form"), code=303)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Say whether the controller answers and its store can be written (no identity needed; nothing about requests).

    A failing store answers 503 with why and since when; sign_in is null when the store could not be read."""
    noted = backend_of(current_app).health()
    if noted.failure:
        return {
            "status": "failing",
            "store": noted.failure,
            "since": noted.since,
            "sign_in": g.get("sign_in"),  # None when the store could not say
        }, 503
    return {"status": "ok", "sign_in": bool(g.get("sign_in"))}
