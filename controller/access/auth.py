"""Who is asking, and may they decide: sign-in, roles, the lockout and the trusted-proxy mode.

With no user in the database and a loopback bind, the controller is in local mode: no sign-in,
as for one person on their own machine. Once a user exists, every route but the sign-in page,
static files and /health needs an identity, read on every request (so no restart is needed):

- a trusted proxy's header (CONTROLLER_TRUSTED_PROXY_HEADER), only from CONTROLLER_TRUSTED_PROXIES;
- else `Authorization: Bearer <token>` (API clients);
- else the page's session cookie, set by the sign-in form.

Roles and groups come from the users table: viewers read, approvers decide too, and approval
rules may name the groups whose members decide a request.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import ParamSpec

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from controller.access import credentials
from controller.core.config import ConfigurationError
from controller.core.errors import NotAllowed, SignInRequired, TooManyAttempts
from controller.storage.context import get_store
from controller.storage.records import Decision

PUBLIC_ENDPOINTS = {"static", "signin.sign_in_form", "signin.sign_in", "signin.health"}
PAGE_BLUEPRINTS = ("pages", "history", "insights")  # HTML for people: without sign-in, they get the form
METRICS_ENDPOINT = "metrics.scrape"  # also open to CONTROLLER_METRICS_TOKEN
ADD_USER = "python -m controller users add NAME --role approver"
SESSION_MAX_SECONDS = 12 * 3600  # a page session signs in again after a working day
Params = ParamSpec("Params")


@dataclass(frozen=True)
class Identity:
    """A signed-in user."""

    name: str
    role: str
    groups: tuple[str, ...] = ()  # from the users table, whichever way they signed in


def current_user() -> Identity | None:
    """Return who signed in for this request; None in local mode."""
    user: Identity | None = g.get("user")
    return user


def decider_groups() -> tuple[str, ...] | None:
    """Return the signed-in user's groups, for approval rules; None in local mode, where nobody signed in."""
    user = current_user()
    return None if user is None else user.groups


def is_loopback(host: str) -> bool:
    """Return whether a bind address is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _listed(setting: str) -> set[str]:
    return {entry.strip() for entry in current_app.config[setting].split(",") if entry.strip()}


def from_proxy_address() -> bool:
    """Return whether this request came from one of CONTROLLER_TRUSTED_PROXIES."""
    return request.remote_addr in _listed("TRUSTED_PROXIES")


def from_trusted_proxy() -> bool:
    """Return whether this request came through a configured sign-on proxy."""
    return bool(current_app.config["TRUSTED_PROXY_HEADER"]) and from_proxy_address()


def client_address() -> str:
    """Return the client's address: the proxy's X-Forwarded-For entry when it came through a trusted proxy."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if from_trusted_proxy() and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.remote_addr or ""


def refuse_if_locked(keys: list[str]) -> None:
    """Raise TooManyAttempts (429, Retry-After) while a lockout runs on any of the keys."""
    until = get_store().locked_until(keys)
    if until is not None:
        seconds = math.ceil((datetime.fromisoformat(until) - datetime.now(timezone.utc)).total_seconds())
        raise TooManyAttempts(f"Too many failed sign-ins; try again in {seconds} s.", retry_after=max(1, seconds))


def count_failure(keys: list[str]) -> None:
    """Count a failed sign-in against each key (a name, an address)."""
    for key in keys:
        get_store().count_failure(
            key, current_app.config["SIGNIN_MAX_FAILURES"], current_app.config["SIGNIN_LOCKOUT_SECONDS"]
        )


def _proxy_user() -> Identity | None:
    name = request.headers.get(current_app.config["TRUSTED_PROXY_HEADER"], "").strip() if from_trusted_proxy() else ""
    if not name:
        return None
    user = get_store().user(name)
    if user is None:
        raise NotAllowed(f"{name} signed in at the proxy but is not a user of this controller; add them: {ADD_USER}.")
    return Identity(user.name, user.role, user.groups)


def _bearer_user() -> Identity | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    keys = [f"address:{client_address()}"]
    refuse_if_locked(keys)
    matched = None
    for user in get_store().users():  # every hash is compared, whichever matches
        if credentials.token_matches(token.strip(), user.token_hash) and scheme.lower() == "bearer":
            matched = user
    if matched is None:
        count_failure(keys)
        raise SignInRequired("That token is not valid. `python -m controller users token NAME` issues a new one.")
    return Identity(matched.name, matched.role, matched.groups)


def _session_user() -> Identity | None:
    fresh = time.time() - session.get("signed_in_at", 0) < SESSION_MAX_SECONDS
    user = get_store().user(session["user"]) if "user" in session and fresh else None
    if user is None:
        session.pop("user", None)  # removed since they signed in, or signed in too long ago
        return None
    return Identity(user.name, user.role, user.groups)


def metrics_token_matches() -> bool:
    """Return whether the request carries CONTROLLER_METRICS_TOKEN as its bearer token."""
    expected = current_app.config["METRICS_TOKEN"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    matches = hmac.compare_digest(token.strip().encode(), expected.encode())
    return bool(expected) and scheme.lower() == "bearer" and matches


def identify() -> ResponseReturnValue | None:
    """Find who is asking before any view runs; without an identity, 401 for the API and the sign-in form for pages."""
    g.sign_in = get_store().has_users()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint == METRICS_ENDPOINT and metrics_token_matches():
        g.metrics_token = True
        return None
    if not g.sign_in:
        if needs_users(current_app):
            raise SignInRequired(f"No user exists and this controller is reachable from the network: {ADD_USER}.")
        return None
    g.user = _proxy_user() or _bearer_user() or _session_user()
    if g.user is not None:
        return None
    if request.blueprint in PAGE_BLUEPRINTS:
        g.audit_outcome = "SignInRequired"
        target = request.full_path.rstrip("?") if request.method == "GET" else url_for("pages.index")
        return redirect(url_for("signin.sign_in", next=target), code=303)
    raise SignInRequired("Sign in first: send Authorization: Bearer <token> (`python -m controller users token NAME`).")


def approvers_only(view: Callable[Params, ResponseReturnValue]) -> Callable[Params, ResponseReturnValue]:
    """Let only approvers (or anyone, in local mode) run this view; a viewer gets 403. Its POSTs are audited."""

    @functools.wraps(view)
    def checked(*args: Params.args, **kwargs: Params.kwargs) -> ResponseReturnValue:
        user = current_user()
        if user is not None and user.role != "approver":
            raise NotAllowed(f"{user.name} is a viewer; only approvers may decide or read the audit trail.")
        return view(*args, **kwargs)

    checked.approvers_only = True  # type: ignore[attr-defined]
    return checked


def as_signed_in(decision: Decision) -> tuple[Decision, list[str]]:
    """Return the decision with the signed-in user as its approver, and a note if the body named someone else."""
    user = current_user()
    if user is None:
        return decision, []
    notes = []
    if decision.approver not in (None, user.name):
        notes.append(f"'approver' was ignored: a decision is recorded under the signed-in user, {user.name}.")
    return replace(decision, approver=user.name), notes


def needs_users(app: Flask) -> bool:
    """Return whether the controller is reached beyond one machine: a non-loopback bind, or a sign-on proxy."""
    return not is_loopback(app.config["HOST"]) or bool(app.config["TRUSTED_PROXY_HEADER"])


def check_bind(app: Flask) -> None:
    """Refuse to serve beyond loopback (or behind a sign-on proxy) while no user exists: anyone could decide."""
    if app.config["TRUSTED_PROXY_HEADER"] and not app.config["TRUSTED_PROXIES"].strip():
        raise ConfigurationError(
            "CONTROLLER_TRUSTED_PROXY_HEADER needs CONTROLLER_TRUSTED_PROXIES, the proxy's addresses."
        )
    if not needs_users(app):
        return
    with app.app_context():
        if not get_store().has_users():
            where = (
                f"CONTROLLER_HOST={app.config['HOST']}" if not is_loopback(app.config["HOST"]) else "A sign-on proxy"
            )
            raise ConfigurationError(
                f"{where} makes this controller reachable from the network and no user exists, so anyone could"
                f" decide. Add one first: {ADD_USER} (CONTROLLER_DATABASE={app.config['DATABASE']})."
            )


def mode_description(app: Flask) -> str:
    """Return how requests are authenticated, for the start-up line."""
    with app.app_context():
        count = len(get_store().users())
    if not count:
        return "local mode, without sign-in"
    proxy = app.config["TRUSTED_PROXY_HEADER"]
    via = f"; {proxy} from {app.config['TRUSTED_PROXIES'] or 'no proxy address'}" if proxy else ""
    return f"sign-in required, {count} user(s){via}"


def template_context() -> dict[str, object]:
    """Give the page who is signed in, whether it is in local mode, and whether they may decide."""
    user = current_user()
    return {"user": user, "local_mode": not g.get("sign_in"), "can_decide": user is None or user.role == "approver"}


def init_app(app: Flask) -> None:
    """Identify every request after the security checks and before any view."""
    app.before_request(identify)
    app.context_processor(template_context)
