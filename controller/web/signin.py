"""The sign-in form, signing out, and the health check: the routes that need no identity."""

from __future__ import annotations

import re
import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from controller.access import auth, credentials
from controller.core.errors import TooManyAttempts
from controller.storage import db
from controller.storage.context import get_store
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
    return render_template("signin.html", next=_next_page())


@bp.post("/signin")
def sign_in() -> ResponseReturnValue:
    """Check a name and password; sign the browser session in, or say why not (429 while locked out)."""
    if not csrf_ok():
        return render_template("refused.html"), 403
    name = request.form.get("name", "").strip()
    keys = [f"name:{name.casefold()}", f"address:{auth.client_address()}"]
    try:
        auth.refuse_if_locked(keys)
    except TooManyAttempts as error:
        return render_template("signin.html", next=_next_page(), error=error.message), 429, error.headers
    user = get_store().user(name)
    if not credentials.password_matches(request.form.get("password", ""), user.password_hash if user else None):
        auth.count_failure(keys)
        return render_template("signin.html", next=_next_page(), error="Wrong name or password."), 401
    get_store().forget_failures(keys)
    session.clear()  # a new session: a fresh form token too
    session.update(user=name, signed_in_at=time.time())
    flash(f"Signed in as {name}.", "success")
    return redirect(_next_page(), code=303)


@bp.post("/signout")
def sign_out() -> ResponseReturnValue:
    """End the browser session."""
    if csrf_ok():
        session.clear()
    return redirect(url_for("signin.sign_in_form"), code=303)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Say whether the controller answers and its store can be written (no identity needed; nothing about requests)."""
    noted = db.health(current_app.config["DATABASE"])
    if noted.failure:
        return {
            "status": "failing",
            "store": noted.failure,
            "since": noted.since,
            "sign_in": bool(g.get("sign_in")),
        }, 503
    return {"status": "ok", "sign_in": bool(g.get("sign_in"))}
