"""Who is asking, and may they decide: sign-in, roles, local mode, the lockout and the proxies in front.

Local mode (no sign-in, as for one person on their own machine) is a state the controller checks on
every request, never a default it falls into: no user exists and none ever did (or `users local-mode`
chose it again), it listens on loopback only, no CONTROLLER_ALLOWED_HOSTS or trusted proxy is
configured, and the request carries no forwarding header (a proxy on this machine would add one).
Otherwise every route but the sign-in page, static files and /health needs an identity, read on
every request (so no restart is needed):

- a trusted proxy's header (CONTROLLER_TRUSTED_PROXY_HEADER), only from CONTROLLER_TRUSTED_PROXIES;
- else `Authorization: Bearer <token>` (API clients);
- else the page's session, recorded in the store so that it can be ended from anywhere.

Roles and groups come from the users table: viewers read, approvers decide too, and approval
rules may name the groups whose members decide a request. Behind CONTROLLER_TRUSTED_PROXIES
the client's address (for the audit trail and the lockout) is the last X-Forwarded-For entry that is
not itself a trusted proxy; from anyone else the header is ignored.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import ParamSpec

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from controller.access import credentials
from controller.core import text
from controller.core.config import ConfigurationError
from controller.core.errors import NotAllowed, SignInRequired, StoreUnavailable, TooManyAttempts
from controller.storage.context import get_store
from controller.storage.records import Decision, SignInState

HEALTH_ENDPOINT = "signin.health"
PUBLIC_ENDPOINTS = {"static", "signin.sign_in_form", "signin.sign_in", HEALTH_ENDPOINT}
PAGE_BLUEPRINTS = ("pages", "history", "insights")  # HTML for people: without sign-in, they get the form
METRICS_ENDPOINT = "metrics.scrape"  # also open to CONTROLLER_METRICS_TOKEN
ADD_USER = "python -m controller users add NAME --role approver"
LOCAL_MODE = "python -m controller users local-mode"
SESSION_MAX_SECONDS = 12 * 3600  # a page session signs in again after a working day
Params = ParamSpec("Params")
FORWARDING_HEADERS = ("Forwarded", "Via", "X-Real-IP", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


def trusted_networks(setting: str) -> list[Network]:
    """Return CONTROLLER_TRUSTED_PROXIES as networks (an address is a network of one)."""
    try:
        return [ipaddress.ip_network(entry.strip(), strict=False) for entry in setting.split(",") if entry.strip()]
    except ValueError as error:
        raise ConfigurationError(
            f"CONTROLLER_TRUSTED_PROXIES must list IP addresses or networks, comma-separated ({error})."
        ) from None


def _trusted(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(parsed in network for network in current_app.extensions["trusted_proxies"])


def from_proxy_address() -> bool:
    """Return whether this request came from one of CONTROLLER_TRUSTED_PROXIES."""
    return _trusted(request.remote_addr or "")


def from_trusted_proxy() -> bool:
    """Return whether this request came from a configured signing-in proxy (TRUSTED_PROXY_HEADER mode)."""
    return bool(current_app.config["TRUSTED_PROXY_HEADER"]) and from_proxy_address()


def client_address() -> str:
    """Return the client's address: behind trusted proxies, the last X-Forwarded-For hop that is not one of them;
    when every hop is trusted, the one the nearest proxy wrote."""
    peer = request.remote_addr or ""
    if not _trusted(peer):
        return peer  # whatever X-Forwarded-For says, anyone could have written it
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    # not the first hop: a client inside the trusted networks wrote that one itself, and could pick a new
    # address for each guess to dodge the per-address lockout
    return next((hop for hop in reversed(hops) if not _trusted(hop)), hops[-1] if hops else peer)


def reachable_beyond_this_machine(app: Flask) -> str | None:
    """Return which setting lets others reach this controller (so local mode is off), or None."""
    config = app.config
    if not is_loopback(config["HOST"]):
        return f"CONTROLLER_HOST={config['HOST']}"
    for key in ("ALLOWED_HOSTS", "TRUSTED_PROXIES", "TRUSTED_PROXY_HEADER"):
        if config[key].strip():
            return f"CONTROLLER_{key}"
    return None


def _forwarding_header() -> str | None:
    """Return the name of a header a proxy adds, if the request has one."""
    return next(
        (name for name in request.headers.keys() if name.lower().startswith("x-forwarded-")),  # noqa: SIM118
        next((name for name in FORWARDING_HEADERS if name in request.headers), None),
    )


def refuse_without_users(closed: bool) -> None:
    """Raise SignInRequired unless this request may be served in local mode: no user exists and the store is not
    closed (a user was added since it was new or reopened)."""
    if closed:
        raise SignInRequired(
            "This controller has had users, so it stays closed now that none is left. Add one: "
            f"{ADD_USER}; or, to serve without sign-in on this machine only, on purpose: {LOCAL_MODE}."
        )
    setting = reachable_beyond_this_machine(current_app)
    if setting is not None:
        raise SignInRequired(f"No user exists and {setting} lets others reach this controller: {ADD_USER}.")
    header = _forwarding_header()
    if header is not None:
        raise SignInRequired(
            f"No user exists and this request came through a proxy (it carries {header}), so others may reach "
            f"this controller: {ADD_USER}."
        )


def _take_attempt(keys: list[str]) -> None:
    """Count a sign-in attempt against the keys before the secret is checked; TooManyAttempts while locked out."""
    config = current_app.config
    until = get_store().take_attempt(keys, config["SIGNIN_MAX_FAILURES"], config["SIGNIN_LOCKOUT_SECONDS"])
    if until is not None:
        seconds = math.ceil((datetime.fromisoformat(until) - datetime.now(timezone.utc)).total_seconds())
        raise TooManyAttempts(f"Too many failed sign-ins; try again in {seconds} s.", retry_after=max(1, seconds))


def sign_in(name: str, password: str) -> Identity | None:
    """Start a page session for the user if the password is theirs, counting the attempt first
    (TooManyAttempts while locked out); None for a wrong name or password.

    A success clears the name's count and takes back only its own attempt from the address's, so a
    user who signs in between guesses at others' names gains no attempts. The session is recorded only
    while the password is still the one checked, so a new password set during the check ends this sign-in too.
    """
    name_key, address_key = f"name:{text.name_key(name)}", f"address:{client_address()}"
    _take_attempt([name_key, address_key])
    store = get_store()
    user = store.user(name)
    if not credentials.password_matches(password, user.password_hash if user else None) or user is None:
        return None
    secret = secrets.token_urlsafe(32)
    if not store.start_session(credentials.hash_token(secret), user.name, SESSION_MAX_SECONDS, user.password_hash):
        return None
    store.forgive_attempt(name_key, address_key)
    session.clear()  # a new session: a fresh form token too
    session["session"] = secret
    return Identity(user.name, user.role)


def end_sessions() -> None:
    """Sign the current page user out: every session of theirs ends, on every browser."""
    user = _session_user()
    if user is not None:
        get_store().end_sessions(user.name)
    session.clear()


def _proxy_name() -> str:
    """Return the user a trusted signing-in proxy names for this request; empty when none does."""
    return request.headers.get(current_app.config["TRUSTED_PROXY_HEADER"], "").strip() if from_trusted_proxy() else ""


def _proxy_user() -> Identity | None:
    name = _proxy_name()
    if not name:
        return None
    user = get_store().user(name)
    if user is None:
        raise NotAllowed(f"{name} signed in at the proxy but is not a user of this controller; add them: {ADD_USER}.")
    return Identity(user.name, user.role, user.groups)


def _bearer_user() -> Identity | None:
    """Return the token's user. A valid token always works (256 bits: nothing to guess); wrong ones count
    against the caller's address only, and are answered 429 while it is locked out."""
    if request.headers.get("Authorization") is None:
        return None
    matched = _token_user()
    if matched is None:
        _take_attempt([f"address:{client_address()}"])
        raise SignInRequired("That token is not valid. `python -m controller users token NAME` issues a new one.")
    return matched


def _token_user() -> Identity | None:
    """Return the user whose token the request carries as its bearer token; None for none or a wrong one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not token:
        return None
    matched = None
    for user in get_store().users():  # every hash is compared, whichever matches
        if credentials.token_matches(token.strip(), user.token_hash) and scheme.lower() == "bearer":
            matched = user
    return Identity(matched.name, matched.role, matched.groups) if matched else None


def _shown_by_credentials() -> Identity | None:
    """Return the caller when a valid token, or a page session without a token, shows who it is, with nothing
    counted otherwise (a wrong token is counted by identify(), whatever session comes with it).

    Such a caller proves that users exist, so the store need not first be asked whether sign-in is on: one read
    fewer a request. A proxy's name comes first whenever one is given, so it is left to identify()."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint == METRICS_ENDPOINT or _proxy_name():
        return None
    return _token_user() if "Authorization" in request.headers else _session_user()


def _session_user() -> Identity | None:
    secret = session.get("session")
    user = get_store().session_user(credentials.hash_token(secret)) if isinstance(secret, str) else None
    if user is None:
        session.pop("session", None)  # ended, expired, or its user removed
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
    g.sign_in = None  # not known until the store says: neither local mode nor signed in
    g.user = _shown_by_credentials()
    if g.user is not None:
        g.sign_in = True
        return None
    state: SignInState | None = None
    try:
        state = get_store().sign_in_state()
    except StoreUnavailable:
        if request.endpoint != HEALTH_ENDPOINT:
            raise
    g.sign_in = None if state is None else state == "on"
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint == METRICS_ENDPOINT and metrics_token_matches():
        g.metrics_token = True
        return None
    if not g.sign_in:
        refuse_without_users(closed=state == "closed")
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


def check_bind(app: Flask) -> None:
    """Refuse to serve where others may reach it (beyond loopback, another host name, a proxy) while no user
    exists: anyone could decide."""
    if app.config["TRUSTED_PROXY_HEADER"] and not app.config["TRUSTED_PROXIES"].strip():
        raise ConfigurationError(
            "CONTROLLER_TRUSTED_PROXY_HEADER needs CONTROLLER_TRUSTED_PROXIES, the proxy's addresses."
        )
    where = reachable_beyond_this_machine(app)
    if where is None:
        return
    with app.app_context():
        if not get_store().has_users():
            raise ConfigurationError(
                f"{where} makes this controller reachable from the network and no user exists, so anyone could"
                f" decide. Add one first: {ADD_USER} (CONTROLLER_DATABASE={app.config['DATABASE']})."
            )


def mode_description(app: Flask) -> str:
    """Return how requests are authenticated, for the start-up line."""
    with app.app_context():
        count = len(get_store().users())
    if not count:
        return "no users: local mode for requests from this machine only, or closed (see `users local-mode`)"
    proxy = app.config["TRUSTED_PROXY_HEADER"]
    via = f"; {proxy} from {app.config['TRUSTED_PROXIES'] or 'no proxy address'}" if proxy else ""
    return f"sign-in required, {count} user(s){via}"


def template_context() -> dict[str, object]:
    """Give the page who is signed in, whether it is in local mode, and whether they may decide."""
    user = current_user()
    return {"user": user, "local_mode": not g.get("sign_in"), "can_decide": user is None or user.role == "approver"}


def init_app(app: Flask) -> None:
    """Identify every request after the security checks and before any view."""
    app.extensions["trusted_proxies"] = trusted_networks(app.config["TRUSTED_PROXIES"])
    app.before_request(identify)
    app.context_processor(template_context)
