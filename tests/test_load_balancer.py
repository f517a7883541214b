"""Debian's nginx, configured as docs/load-balancing.md shows, in front of three `python -m controller` processes
on one DynamoDB table: a person signs in and decides through it, the other controllers follow, and a controller
killed behind it costs no request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from controller.storage.dynamodb import DynamoDbBackend
from harness.controllers import TEST_PASSWORD, add_user_to
from harness.emulator import Emulator
from harness.processes import ControllerProcess
from harness.proxy import NGINX, Proxy, client_at, running_proxy
from harness.stacks import Stack
from harness.tables import SHARED_SECRET, new_approvals_table
from harness.waiting import wait_for

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
TIMEOUT = 30
PUBLIC = "approvals.example"  # the name people use; nginx passes it on as Host
CLIENT = "127.0.0.2"  # the person's machine, as nginx sees it (nginx itself is 127.0.0.1)


@dataclass
class Team:
    """Three controllers on one table, nginx in front, and an approver's token."""

    controllers: list[ControllerProcess]
    proxy: Proxy
    token: str

    def through_proxy(
        self, session: requests.Session, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send a request to nginx as a client that asked for the public name."""
        sent = {"Host": PUBLIC, **(headers or {})}
        return session.request(method, self.proxy.url + path, headers=sent, timeout=TIMEOUT, **kwargs)


@pytest.fixture
def team(emulator: Emulator, stack: Stack, tmp_path: Path) -> Iterator[Team]:
    table = new_approvals_table(emulator)
    token = add_user_to(DynamoDbBackend(emulator.client("dynamodb"), table), "Grace")
    settings = {
        "STORE": "dynamodb",
        "DYNAMODB_TABLE": table,
        "SECRET_KEY": SHARED_SECRET,  # one key for all: a form one of them serves is posted to another
        "ALLOWED_HOSTS": PUBLIC,
        "TRUSTED_PROXIES": "127.0.0.1",
    }
    controllers = [
        ControllerProcess(
            emulator, stack.queue_url, tmp_path / f"unused{i}.sqlite3", tmp_path / f"c{i}.log", token, **settings
        )
        for i in range(3)
    ]
    try:
        for controller in controllers:
            controller.start()
        for controller in controllers:
            controller.wait_until_ready()
        with running_proxy(tmp_path / "nginx", [c.url.removeprefix("http://") for c in controllers]) as proxy:
            yield Team(controllers, proxy, token)
    finally:
        for controller in controllers:
            controller.kill()


def sign_in(team: Team, session: requests.Session) -> requests.Response:
    """Sign in through nginx with the page's form, its CSRF token included, as a browser does."""
    form = team.through_proxy(session, "GET", "/signin").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    fields = {"csrf_token": csrf, "name": "Grace", "password": TEST_PASSWORD}
    return team.through_proxy(session, "POST", "/signin", data=fields, allow_redirects=False)


def approve_on_the_page(team: Team, session: requests.Session, request_id: str) -> requests.Response:
    """Press the request's Approve button on the page served through nginx: its form, fields and all."""
    page = team.through_proxy(session, "GET", "/").text
    form = re.search(
        rf'<form method="post" action="(/ui/approve/{re.escape(request_id)})"[^>]*>(.*?)</form>', page, re.S
    )
    assert form is not None, f"no Approve form for {request_id} on the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    origin = {"Origin": f"http://{PUBLIC}"}  # what a browser sends with a form's POST
    return team.through_proxy(session, "POST", form.group(1), data=fields, headers=origin, allow_redirects=False)


def pending_on(controller: ControllerProcess, *names: str) -> None:
    """Wait until the controller lists every one of the requests as pending."""

    def listed() -> bool:
        return set(names) <= {item["id"] for item in controller.get("/pending").json()["pending"]}

    wait_for(listed, 15, f"{names} pending on {controller.url}")


def cookie_header(session: requests.Session) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in session.cookies.items())}


def test_signed_in_through_nginx_an_approval_there_shows_on_another_controllers_stream_and_page(team, stack, listen):
    name = stack.start()
    pending_on(team.controllers[0], name)
    elsewhere = team.controllers[2]

    with client_at(CLIENT) as browser:
        signed_in = sign_in(team, browser)
        stream = listen(elsewhere.url, last_event_id="0", headers=cookie_header(browser))  # straight to it
        wait_for(lambda: stream.seen("stored", name), 15, "the other controller's stream to replay the stored event")
        approved = approve_on_the_page(team, browser, name)
        wait_for(lambda: stream.seen("changed", name), 15, "the other controller's stream to announce the approval")
        page = requests.get(elsewhere.url + "/", headers=cookie_header(browser), timeout=TIMEOUT)

    assert (signed_in.status_code, signed_in.headers["Location"]) == (303, "/")
    assert (approved.status_code, approved.headers["Location"]) == (303, "/")
    assert [data["state"] for _, kind, data in stream.events if kind == "changed" and data["id"] == name][
        -1
    ] == "approved"
    assert page.status_code == 200 and "Signed in as" in page.text
    assert f'action="/ui/approve/{name}"' not in page.text  # no longer pending there either
    assert elsewhere.get(f"/approvals/{name}").json()["request"]["state"] == "approved"
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"
    trail = elsewhere.get(f"/approvals/{name}/audit").json()["events"]
    assert [(event["actor"], event["address"], event["status"]) for event in trail] == [("Grace", CLIENT, 303)]


def test_a_controller_killed_behind_nginx_costs_no_request_through_it(team, stack):
    first, second = stack.start(), stack.start()
    pending_on(team.controllers[1], first, second)
    token = {"Authorization": f"Bearer {team.token}"}

    team.controllers[0].kill()

    with client_at(CLIENT) as client:
        listed = [team.through_proxy(client, "GET", "/pending", headers=token).status_code for _ in range(6)]
        signed_in = [sign_in(team, client).status_code for _ in range(3)]
        decided = team.through_proxy(client, "POST", f"/approve/{first}", headers=token)
        page_decided = approve_on_the_page(team, client, second)

    assert "Connection refused" in team.proxy.error_log.read_text()  # nginx did try the dead one, then the next
    assert listed == [200] * 6
    assert signed_in == [303] * 3
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    assert page_decided.status_code == 303
    assert stack.wait_until_finished(first)["status"] == "SUCCEEDED"
    assert stack.wait_until_finished(second)["status"] == "SUCCEEDED"
