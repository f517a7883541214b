"""Behind Debian's nginx, from the attacker's side: local mode never opens to forwarded clients, and one
client's failures never lock out another, whose address the audit trail records."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests

from controller.storage.context import backend_of
from harness.controllers import TEST_PASSWORD, ServedController, add_user, users_command
from harness.proxy import NGINX, Proxy, client_at, running_proxy
from harness.waiting import wait_for

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
TIMEOUT = 30
PUBLIC = "approvals.example"  # the name the proxy serves, as in the team setup
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def proxy_in_front(tmp_path: Path) -> Iterator[Callable[..., Proxy]]:
    """Start nginx in front of a controller; stopped after the test."""
    running: list[Iterator[Proxy]] = []

    def start(controller: ServedController, **extra_headers: str) -> Proxy:
        context = running_proxy(
            tmp_path / f"nginx{len(running)}", [controller.url.removeprefix("http://")], extra_headers
        )
        running.append(context)
        return context.__enter__()

    yield start
    for context in running:
        context.__exit__(None, None, None)


def stored_state(controller: ServedController, request_id: str) -> str | None:
    """Read a request's state from the database, as no client could."""
    with closing(backend_of(controller.app).open()) as store:
        stored = store.get_request(request_id)
    return stored.state if stored else None


def sign_in(session: requests.Session, url: str, name: str, password: str) -> requests.Response:
    """Sign in through the form as a browser would; return the answer to the form."""
    form = session.get(url + "/signin", headers={"Host": PUBLIC}, timeout=TIMEOUT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    fields = {"csrf_token": token, "name": name, "password": password}
    return session.post(url + "/signin", data=fields, headers={"Host": PUBLIC}, allow_redirects=False, timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("settings", "host"),
    [
        ({"ALLOWED_HOSTS": PUBLIC}, PUBLIC),  # the README's team setup: loopback bind, public name allowed
        ({"ALLOWED_HOSTS": PUBLIC, "TRUSTED_PROXIES": "127.0.0.1"}, PUBLIC),
        ({}, None),  # nothing configured: a proxy on this machine that passes the controller's own Host
    ],
)
def test_through_a_proxy_a_controller_without_users_refuses_an_anonymous_approval(
    stack, controller_factory, proxy_in_front, settings, host
):
    controller = controller_factory(stack, **settings)
    proxy = proxy_in_front(controller)
    name = stack.start()
    wait_for(lambda: stored_state(controller, name), 15, "the request to be stored")
    headers = {"Host": host or controller.url.removeprefix("http://")}

    spoofed = requests.post(
        f"{proxy.url}/approve/{name}", json={"approver": "CEO (spoofed)"}, headers=headers, timeout=TIMEOUT
    )
    page = requests.get(proxy.url + "/", headers=headers, timeout=TIMEOUT)

    assert (spoofed.status_code, spoofed.json()["error"]) == (401, "SignInRequired")
    assert "users add NAME" in spoofed.json()["message"]
    assert page.status_code == 401 and "only this machine" not in page.text
    assert stored_state(controller, name) == "pending"


def test_local_mode_still_serves_a_request_straight_from_this_machine(controller):
    page = controller.get("/")

    assert page.status_code == 200
    assert "this request came straight from this machine" in page.text


def test_removing_the_last_user_keeps_the_controller_closed_through_the_proxy(
    stack, controller_factory, proxy_in_front
):
    controller = controller_factory(stack, ALLOWED_HOSTS=PUBLIC)
    proxy = proxy_in_front(controller)
    database = controller.app.config["DATABASE"]
    add_user(database, "Ada")
    name = stack.start()
    wait_for(lambda: stored_state(controller, name), 15, "the request to be stored")

    removed = users_command(database, "remove", "Ada")
    spoofed = requests.post(f"{proxy.url}/approve/{name}", headers={"Host": PUBLIC}, timeout=TIMEOUT)
    direct = controller.get("/pending")  # not even from this machine, until local mode is chosen on purpose

    assert removed.returncode == 0 and "refuses every request" in removed.stdout
    assert (spoofed.status_code, spoofed.json()["error"]) == (401, "SignInRequired")
    assert "users local-mode" in spoofed.json()["message"]
    assert direct.status_code == 401
    assert stored_state(controller, name) == "pending"


def test_one_clients_failures_behind_the_proxy_do_not_lock_out_another(stack, controller_factory, proxy_in_front):
    controller = controller_factory(stack, ALLOWED_HOSTS=PUBLIC, TRUSTED_PROXIES="127.0.0.1", SIGNIN_MAX_FAILURES=3)
    proxy = proxy_in_front(controller)
    token = add_user(controller.app.config["DATABASE"], "Ada")
    name = stack.start()
    wait_for(lambda: stored_state(controller, name), 15, "the request to be stored")
    attacker, approver = client_at(CLIENT_A), client_at(CLIENT_B)
    forged = {"Host": PUBLIC, "X-Forwarded-For": CLIENT_B}  # the attacker even claims to be the other client

    with attacker, approver:
        guesses = [
            attacker.get(
                proxy.url + "/pending", headers={**forged, "Authorization": f"Bearer hat_{i}"}, timeout=TIMEOUT
            )
            for i in range(4)
        ]
        sprayed = [sign_in(attacker, proxy.url, f"user{i}", "guess").status_code for i in range(4)]
        valid = approver.get(
            proxy.url + "/pending", headers={"Host": PUBLIC, "Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        wrong = approver.get(
            proxy.url + "/pending", headers={"Host": PUBLIC, "Authorization": "Bearer hat_typo"}, timeout=TIMEOUT
        )
        signed_in = sign_in(approver, proxy.url, "Ada", TEST_PASSWORD)
        decided = approver.post(
            f"{proxy.url}/approve/{name}", headers={"Host": PUBLIC, "Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        attempt = attacker.post(f"{proxy.url}/approve/{name}", headers=forged, timeout=TIMEOUT)

    assert [guess.status_code for guess in guesses] == [401, 401, 401, 429]
    assert sprayed == [429, 429, 429, 429]  # the wrong tokens locked the attacker's own address
    assert (valid.status_code, wrong.status_code, signed_in.status_code) == (200, 401, 303)
    assert decided.status_code == 200 and attempt.status_code == 401
    trail = requests.get(
        f"{controller.url}/approvals/{name}/audit", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    ).json()["events"]
    assert [(event["address"], event["status"]) for event in trail] == [(CLIENT_B, 200), (CLIENT_A, 401)]


def test_a_client_inside_the_trusted_networks_cannot_pick_its_own_address_to_dodge_the_lockout(
    stack, controller_factory, proxy_in_front
):
    # the whole loopback network is trusted, so the attacker at CLIENT_A is inside it too
    controller = controller_factory(stack, ALLOWED_HOSTS=PUBLIC, TRUSTED_PROXIES="127.0.0.0/8", SIGNIN_MAX_FAILURES=3)
    proxy = proxy_in_front(controller)
    add_user(controller.app.config["DATABASE"], "Ada")

    with client_at(CLIENT_A) as attacker:
        guesses = [
            attacker.get(
                proxy.url + "/pending",
                headers={"Host": PUBLIC, "X-Forwarded-For": f"127.0.9.{i}", "Authorization": f"Bearer hat_{i}"},
                timeout=TIMEOUT,
            ).status_code
            for i in range(4)
        ]

    assert guesses == [401, 401, 401, 429]  # counted against the address nginx saw, whatever the client wrote


def test_a_forwarded_for_header_from_a_client_that_is_not_a_trusted_proxy_is_ignored(stack, controller_factory):
    controller = controller_factory(stack, TRUSTED_PROXIES="127.0.0.1")
    token = add_user(controller.app.config["DATABASE"], "Ada")
    name = stack.start()
    wait_for(lambda: stored_state(controller, name), 15, "the request to be stored")

    with client_at(CLIENT_A) as direct:
        direct.post(f"{controller.url}/approve/{name}", headers={"X-Forwarded-For": "198.51.100.7"}, timeout=TIMEOUT)

    trail = requests.get(
        f"{controller.url}/approvals/{name}/audit", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    ).json()["events"]
    assert [event["address"] for event in trail] == [CLIENT_A]


def test_behind_a_signing_in_proxy_the_audit_trail_has_the_clients_address(stack, controller_factory, proxy_in_front):
    controller = controller_factory(
        stack, ALLOWED_HOSTS=PUBLIC, TRUSTED_PROXIES="127.0.0.1", TRUSTED_PROXY_HEADER="X-Forwarded-Email"
    )
    proxy = proxy_in_front(controller, **{"X-Forwarded-Email": '"ada@example.com"'})
    add_user(controller.app.config["DATABASE"], "ada@example.com")
    name = stack.start()
    wait_for(lambda: stored_state(controller, name), 15, "the request to be stored")

    with client_at(CLIENT_A) as client:
        decided = client.post(f"{proxy.url}/approve/{name}", headers={"Host": PUBLIC}, timeout=TIMEOUT)
        trail = client.get(f"{proxy.url}/approvals/{name}/audit", headers={"Host": PUBLIC}, timeout=TIMEOUT)

    assert decided.status_code == 200 and decided.json()["approver"] == "ada@example.com"
    assert [(event["actor"], event["address"]) for event in trail.json()["events"]] == [("ada@example.com", CLIENT_A)]
