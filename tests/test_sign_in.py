"""Sign-in, roles, the approver's identity, the lockout, the trusted proxy and the audit trail, over real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.controllers import TEST_PASSWORD, add_user, controller_environment
from harness.controllers import users_command as harness_users_command
from harness.waiting import wait_for

TIMEOUT = 30


def users_command(controller, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m controller users ...` on the controller's database, the password on stdin."""
    return harness_users_command(controller.app.config["DATABASE"], *args, password=password)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in_session(controller, name: str, password: str = TEST_PASSWORD) -> tuple[requests.Session, Any]:
    """Sign in through the form like a browser; return the session and the answer to the form."""
    session = requests.Session()
    form = session.get(controller.url + "/signin", timeout=TIMEOUT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(
        controller.url + "/signin",
        data={"csrf_token": token, "name": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    return session, answer


def listing_once_pulled(controller, headers: dict[str, str]) -> tuple[Any] | None:
    """Return (GET /pending's answer,) once it lists a request or is refused; None before."""
    response = requests.get(controller.url + "/pending", headers=headers, timeout=TIMEOUT)
    return (response,) if response.status_code != 200 or response.json()["count"] else None


def test_adding_a_user_switches_sign_in_on_for_the_running_controller(controller):
    assert controller.get("/pending").status_code == 200
    assert "Local mode, no sign-in" in controller.get("/").text

    added = users_command(controller, "add", "Ada", "--role", "approver", password=TEST_PASSWORD)

    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("hat_") and " " not in token
    refused = controller.get("/pending")
    assert refused.status_code == 401
    assert refused.json()["error"] == "SignInRequired"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(controller.url + "/pending", headers=bearer(token), timeout=TIMEOUT).status_code == 200
    page = requests.get(controller.url + "/", allow_redirects=False, timeout=TIMEOUT)
    assert (page.status_code, page.headers["Location"]) == (303, "/signin?next=/")
    assert controller.get("/health").json() == {"status": "ok", "sign_in": True}
    assert controller.get("/static/page.css").status_code == 200
    assert token.encode() not in Path(controller.app.config["DATABASE"]).read_bytes()


def test_the_users_command_lists_reissues_tokens_and_removes(controller):
    first = users_command(controller, "add", "Ada", "--role", "approver", password=TEST_PASSWORD)
    old = first.stdout.strip().splitlines()[-1]
    assert users_command(controller, "add", "Vic", "--role", "viewer", password=TEST_PASSWORD).returncode == 0

    listed = users_command(controller, "list").stdout
    reissued = users_command(controller, "token", "Ada")
    new = reissued.stdout.strip().splitlines()[-1]

    assert re.search(r"^Ada\tapprover\t", listed, re.M) and re.search(r"^Vic\tviewer\t", listed, re.M)
    assert requests.get(controller.url + "/pending", headers=bearer(old), timeout=TIMEOUT).status_code == 401
    assert requests.get(controller.url + "/pending", headers=bearer(new), timeout=TIMEOUT).status_code == 200
    assert users_command(controller, "add", "Ada", "--role", "viewer", password=TEST_PASSWORD).returncode == 1
    assert users_command(controller, "add", "Short", "--role", "viewer", password="short").returncode == 1
    assert users_command(controller, "add", "Eve\u202e", "--role", "viewer", password=TEST_PASSWORD).returncode == 1
    assert users_command(controller, "remove", "Ada").returncode == 0
    assert users_command(controller, "remove", "Vic").returncode == 0
    closed = controller.get("/pending")  # no users left: closed until one is added or local mode is chosen
    assert (closed.status_code, closed.json()["error"]) == (401, "SignInRequired")
    assert "users local-mode" in closed.json()["message"] and "users add" in closed.json()["message"]
    assert users_command(controller, "local-mode").returncode == 0
    assert controller.get("/pending").status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer hat_wrong", "Basic QWRhOnB3", "Bearer "])
def test_a_call_without_a_valid_token_gets_401_and_decides_nothing(stack, controller, authorization):
    name = stack.start()
    controller.wait_for_pending(name)
    add_user(controller.app.config["DATABASE"], "Ada")  # sign-in is on from here
    headers = {"Authorization": authorization} if authorization else {}

    for method, path in (("GET", "/pending"), ("GET", f"/approvals/{name}"), ("POST", f"/approve/{name}")):
        response = requests.request(method, controller.url + path, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 401, (method, path)
        assert name not in response.text
    assert stack.describe(name)["status"] == "RUNNING"


def test_a_viewer_reads_but_gets_403_deciding_and_an_approver_decides(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    viewer, approver = (
        add_user(controller.app.config["DATABASE"], "Vic", "viewer"),
        add_user(controller.app.config["DATABASE"], "Ada"),
    )

    listed = requests.get(controller.url + "/pending", headers=bearer(viewer), timeout=TIMEOUT)
    refused = requests.post(f"{controller.url}/approve/{name}", headers=bearer(viewer), timeout=TIMEOUT)
    approved = requests.post(f"{controller.url}/approve/{name}", headers=bearer(approver), timeout=TIMEOUT)

    assert [r["id"] for r in listed.json()["pending"]] == [name]
    assert (refused.status_code, refused.json()["error"]) == (403, "NotAllowed")
    assert approved.status_code == 200, approved.text
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_the_recorded_approver_is_the_signed_in_user_even_when_the_body_names_another(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    token = add_user(controller.app.config["DATABASE"], "Ada")

    decided = requests.post(
        f"{controller.url}/approve/{name}",
        json={"approver": "Grace (spoofed)", "comment": "ok"},
        headers=bearer(token),
        timeout=TIMEOUT,
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["approver"] == "Ada"
    assert "'approver' was ignored" in decided.json()["warnings"][0]
    looked_up = requests.get(f"{controller.url}/approvals/{name}", headers=bearer(token), timeout=TIMEOUT).json()
    assert looked_up["request"]["approver"] == "Ada"
    output = json.loads(stack.wait_until_finished(name)["output"])
    assert output["approval"] == {"status": "APPROVED", "approver": "Ada", "comment": "ok"}


def test_repeated_failed_sign_ins_are_locked_out_with_429_and_retry_after(stack, controller_factory):
    controller = controller_factory(stack, SIGNIN_MAX_FAILURES=3, SIGNIN_LOCKOUT_SECONDS=120)
    add_user(controller.app.config["DATABASE"], "Ada")

    failures = [signed_in_session(controller, "Ada", "wrong password")[1].status_code for _ in range(3)]
    locked = signed_in_session(controller, "Ada")[1]

    assert failures == [401, 401, 401]
    assert locked.status_code == 429
    assert 100 <= int(locked.headers["Retry-After"]) <= 120
    assert "Too many failed sign-ins" in locked.text


def test_repeated_wrong_tokens_are_locked_out_with_429_but_a_valid_token_still_works(stack, controller_factory):
    controller = controller_factory(stack, SIGNIN_MAX_FAILURES=3)
    token = add_user(controller.app.config["DATABASE"], "Ada")

    answers = [
        requests.get(controller.url + "/pending", headers=bearer(f"hat_guess{i}"), timeout=TIMEOUT) for i in range(4)
    ]
    valid = requests.get(controller.url + "/pending", headers=bearer(token), timeout=TIMEOUT)

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert valid.status_code == 200  # 256 bits cannot be guessed: others' failures never lock a token out


def test_a_signed_in_page_session_decides_under_its_users_name(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    add_user(controller.app.config["DATABASE"], "Ada")

    session, answer = signed_in_session(controller, "Ada")
    page = session.get(controller.url + "/", timeout=TIMEOUT).text
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    shown = session.post(f"{controller.url}/ui/approve/{name}", data={"csrf_token": form_token}, timeout=TIMEOUT).text

    assert (answer.status_code, answer.headers["Location"]) == (303, "/")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Signed in as <strong>Ada</strong> (approver)" in page
    assert "Order ORD-1001 approved." in shown and "by Ada" in shown


def test_the_session_cookie_is_secure_when_configured(stack, controller_factory):
    controller = controller_factory(stack, SECURE_COOKIES=True)
    add_user(controller.app.config["DATABASE"], "Ada")

    form = requests.get(controller.url + "/signin", timeout=TIMEOUT)

    assert "; Secure" in form.headers["Set-Cookie"]  # so this plain-HTTP client cannot send it back


@pytest.mark.parametrize(("proxies", "accepted"), [("127.0.0.1", True), ("10.9.8.7", False)])
def test_a_trusted_proxys_header_is_taken_only_from_the_configured_proxy(stack, controller_factory, proxies, accepted):
    controller = controller_factory(stack, TRUSTED_PROXY_HEADER="X-Forwarded-Email", TRUSTED_PROXIES=proxies)
    add_user(controller.app.config["DATABASE"], "ada@example.com")
    name = stack.start()
    header = {"X-Forwarded-Email": "ada@example.com"}

    (listed,) = wait_for(lambda: listing_once_pulled(controller, header), 15, "the request to be listed")
    decided = requests.post(f"{controller.url}/approve/{name}", headers=header, timeout=TIMEOUT)

    if accepted:
        assert listed.status_code == 200
        assert decided.status_code == 200 and decided.json()["approver"] == "ada@example.com"
        stranger = requests.get(
            controller.url + "/pending", headers={"X-Forwarded-Email": "mallory@example.com"}, timeout=TIMEOUT
        )
        assert (stranger.status_code, stranger.json()["error"]) == (403, "NotAllowed")
    else:
        assert (listed.status_code, decided.status_code) == (401, 401)


def test_every_attempt_to_decide_is_in_the_audit_trail_which_only_approvers_read(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    viewer = add_user(controller.app.config["DATABASE"], "Vic", "viewer")
    approver = add_user(controller.app.config["DATABASE"], "Ada")

    requests.post(f"{controller.url}/approve/{name}", timeout=TIMEOUT)
    requests.post(f"{controller.url}/reject/{name}", headers=bearer(viewer), timeout=TIMEOUT)
    requests.post(f"{controller.url}/approve/{name}", headers=bearer(approver), timeout=TIMEOUT)
    requests.post(f"{controller.url}/approve/{name}", headers=bearer(approver), timeout=TIMEOUT)
    trail = requests.get(f"{controller.url}/approvals/{name}/audit", headers=bearer(approver), timeout=TIMEOUT)
    hidden = requests.get(f"{controller.url}/approvals/{name}/audit", headers=bearer(viewer), timeout=TIMEOUT)

    events = [(e["actor"], e["action"], e["status"], e["outcome"]) for e in trail.json()["events"]]
    assert events == [
        (None, "approve", 401, "SignInRequired"),
        ("Vic", "reject", 403, "NotAllowed"),
        ("Ada", "approve", 200, "approved"),
        ("Ada", "approve", 409, "AlreadyDecided"),
    ]
    assert {e["address"] for e in trail.json()["events"]} == {"127.0.0.1"}
    assert all(e["at"] for e in trail.json()["events"])
    assert hidden.status_code == 403


def test_a_bind_beyond_loopback_without_users_exits_non_zero_and_says_how_to_add_one(stack, tmp_path):
    database = tmp_path / "approvals.sqlite3"
    environment = controller_environment(stack.emulator, stack.queue_url, database, HOST="0.0.0.0")

    started = subprocess.run(
        [sys.executable, "-m", "controller"], env=environment, capture_output=True, text=True, timeout=60, check=False
    )

    assert started.returncode != 0
    assert "python -m controller users add NAME --role approver" in started.stderr


@pytest.mark.parametrize(("target", "landing"), [("/pending", "/pending"), ("//evil.example/", "/"), ("/\t/evil", "/")])
def test_after_signing_in_the_form_returns_to_a_page_of_this_controller_only(controller, target, landing):
    add_user(controller.app.config["DATABASE"], "Ada")
    session = requests.Session()
    form = session.get(controller.url + "/signin", timeout=TIMEOUT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)

    answer = session.post(
        controller.url + "/signin",
        data={"csrf_token": token, "name": "Ada", "password": TEST_PASSWORD, "next": target},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert (answer.status_code, answer.headers["Location"]) == (303, landing)


def test_a_removed_users_page_session_stops_working(controller):
    add_user(controller.app.config["DATABASE"], "Ada")
    add_user(controller.app.config["DATABASE"], "Bea")
    session, _ = signed_in_session(controller, "Ada")
    assert session.get(controller.url + "/pending", timeout=TIMEOUT).status_code == 200

    assert users_command(controller, "remove", "Ada").returncode == 0

    assert session.get(controller.url + "/pending", timeout=TIMEOUT).status_code == 401


def test_the_page_sends_the_digest_of_the_order_it_shows_and_a_stale_form_decides_nothing(stack, controller):
    name = stack.start()
    digest = controller.wait_for_pending(name)["order_digest"]
    token = add_user(controller.app.config["DATABASE"], "Ada")
    session, _ = signed_in_session(controller, "Ada")
    page = session.get(controller.url + "/", timeout=TIMEOUT).text
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    stale = {"csrf_token": form_token, "expected_order_digest": "0" * 64}
    single = session.post(f"{controller.url}/ui/approve/{name}", data=stale, timeout=TIMEOUT).text
    selection = {"csrf_token": form_token, "action": "approve", "ids": [name], "digests": [f"{name} {'0' * 64}"]}
    selected = session.post(f"{controller.url}/ui/selected", data=selection, timeout=TIMEOUT).text

    assert page.count(f'name="expected_order_digest" value="{digest}"') == 2  # the Approve and the Reject form
    assert f'name="digests" value="{name} {digest}"' in page
    assert "Not decided, the order changed" in single and "Not decided, the order changed" in selected
    looked_up = requests.get(f"{controller.url}/approvals/{name}", headers=bearer(token), timeout=TIMEOUT)
    trail = requests.get(f"{controller.url}/approvals/{name}/audit", headers=bearer(token), timeout=TIMEOUT)
    assert looked_up.json()["request"]["state"] == "pending"
    assert [event["outcome"] for event in trail.json()["events"]] == [
        "OrderChanged",
        "OrderChanged",
    ]


def test_forty_parallel_guesses_get_exactly_the_allowed_attempts_and_then_429(stack, controller_factory):
    controller = controller_factory(stack, SIGNIN_MAX_FAILURES=5)
    add_user(controller.app.config["DATABASE"], "Ada")

    with ThreadPoolExecutor(40) as guessers:
        codes = list(
            guessers.map(lambda i: signed_in_session(controller, "Ada", f"guess {i}")[1].status_code, range(40))
        )
    assert (codes.count(401), codes.count(429)) == (5, 35)


def test_an_account_holder_signing_in_between_guesses_at_other_names_is_still_locked_out(stack, controller_factory):
    controller = controller_factory(stack, SIGNIN_MAX_FAILURES=5)
    add_user(controller.app.config["DATABASE"], "Mallory")
    add_user(controller.app.config["DATABASE"], "Ada")

    own, guesses = [], []
    for i in range(8):
        own.append(signed_in_session(controller, "Mallory")[1].status_code)
        guesses.append(signed_in_session(controller, f"victim{i}", "guess")[1].status_code)

    assert guesses == [401] * 5 + [429] * 3  # a success takes back only its own attempt from the address
    assert own[:5] == [303] * 5


@pytest.mark.parametrize(
    ("existing", "look_alike"),
    [
        ("Grace", "grace"),  # case
        ("Grace", "\uff27race"),  # fullwidth G
        ("Grace", "gr\u0430ce"),  # Cyrillic a
        ("Grace", "Gr\u200bace"),  # zero-width space
        ("Grace", "Grace\U000e0041"),  # a tag character
        ("Gr\u00e2ce", "Gra\u0302ce"),  # NFD of the same name
        ("Grace", "Grace\ufe0f"),  # a variation selector
    ],
)
def test_a_user_name_that_passes_for_an_existing_one_is_refused(controller, existing, look_alike):
    assert users_command(controller, "add", existing, "--role", "viewer", password=TEST_PASSWORD).returncode == 0

    added = users_command(controller, "add", look_alike, "--role", "approver", password=TEST_PASSWORD)

    assert added.returncode == 1 and "Traceback" not in added.stderr
    assert len(users_command(controller, "list").stdout.splitlines()) == 1


def test_a_name_signs_in_whatever_its_case_and_the_lockout_counts_it_as_one(stack, controller_factory):
    controller = controller_factory(stack, SIGNIN_MAX_FAILURES=2)
    add_user(controller.app.config["DATABASE"], "Grace")

    failures = [signed_in_session(controller, name, "wrong")[1].status_code for name in ("grace", "GRACE")]
    locked = signed_in_session(controller, "Grace")[1].status_code

    assert (failures, locked) == ([401, 401], 429)


def test_a_bulk_attempt_refused_as_a_whole_is_in_each_named_requests_audit_trail(stack, controller):
    first, second = stack.start(), stack.start()
    controller.wait_for_pending(first)
    controller.wait_for_pending(second)
    viewer = add_user(controller.app.config["DATABASE"], "Vic", "viewer")
    approver = add_user(controller.app.config["DATABASE"], "Ada")

    refused = requests.post(
        controller.url + "/approve", json={"ids": [first, second]}, headers=bearer(viewer), timeout=TIMEOUT
    )

    assert refused.status_code == 403
    for name in (first, second):
        trail = requests.get(f"{controller.url}/approvals/{name}/audit", headers=bearer(approver), timeout=TIMEOUT)
        assert [(e["actor"], e["status"]) for e in trail.json()["events"]] == [("Vic", 403)]
