"""Structured logs: CONTROLLER_LOG_FORMAT=json gives one JSON object per line and never a secret."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import requests

from harness.controllers import TEST_PASSWORD, add_user, controller_environment
from harness.peek import task_tokens
from harness.waiting import free_port, wait_for

TIMEOUT = 30
WRONG_PASSWORD = "not-the-password-7341"
QUERY_SECRET = "query-secret-5512"


def sign_in(url: str, password: str) -> tuple[requests.Session, str]:
    """Sign in through the form; return the session and the form's CSRF token."""
    session = requests.Session()
    form = session.get(url + "/signin", timeout=TIMEOUT).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    session.post(url + "/signin", data={"csrf_token": csrf, "name": "Grace", "password": password}, timeout=TIMEOUT)
    return session, csrf


def test_a_runs_json_logs_parse_line_by_line_and_hold_no_token_password_or_cookie(stack, tmp_path):
    # GIVEN a served controller with sign-in, logging JSON, behind a trusted proxy address
    database, port = tmp_path / "approvals.sqlite3", free_port()
    token = add_user(database, "Grace")
    environment = controller_environment(
        stack.emulator, stack.queue_url, database, PORT=str(port), LOG_FORMAT="json", TRUSTED_PROXIES="127.0.0.1"
    )
    url, log_file = f"http://127.0.0.1:{port}", tmp_path / "controller.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "controller"], env=environment, stdout=log, stderr=log)
        try:
            wait_for(lambda: _answers(url), 30, "the controller to serve")
            # WHEN it is used with a token, a password (wrong, then right), a cookie and a secret-looking query
            bearer = {"Authorization": f"Bearer {token}"}
            sign_in(url, WRONG_PASSWORD)
            page, csrf = sign_in(url, TEST_PASSWORD)
            assert page.get(url + "/", timeout=TIMEOUT).status_code == 200
            name = stack.start()
            wait_for(lambda: requests.get(url + "/pending", headers=bearer, timeout=TIMEOUT).json()["count"], 15, name)
            traced = requests.get(
                f"{url}/pending?token={QUERY_SECRET}&limit=5",
                headers={**bearer, "X-Request-ID": "trace-7f3a"},
                timeout=TIMEOUT,
            )
            assert requests.post(f"{url}/approve/{name}", headers=bearer, timeout=TIMEOUT).status_code == 200
            secrets = [token, TEST_PASSWORD, WRONG_PASSWORD, QUERY_SECRET, csrf, *task_tokens(database)]
            secrets += [cookie.value for cookie in page.cookies]
        finally:
            process.terminate()
            process.wait(timeout=30)

    # THEN every line is a JSON object with the four fields, and none holds a secret
    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip() and not line.startswith("controller ready")]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"{len(leaked)} secret(s) in the log"
    # AND each request has its line, with the proxy's request id kept and returned
    assert traced.headers["X-Request-ID"] == "trace-7f3a"
    http = [line for line in lines if "http" in line]
    mine = next(line for line in http if line.get("request_id") == "trace-7f3a")
    assert mine["http"]["method"] == "GET"
    assert mine["http"]["path"] == "/pending?token=%5Bredacted%5D&limit=5"
    assert mine["http"]["status"] == 200 and mine["http"]["user"] == "Grace" and mine["http"]["duration_ms"] >= 0
    statuses = {(line["http"]["method"], line["http"]["path"].split("?")[0], line["http"]["status"]) for line in http}
    assert {("POST", "/signin", 401), ("POST", f"/approve/{name}", 200), ("GET", "/", 200)} <= statuses


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_request_id_from_an_untrusted_address_is_replaced_by_a_new_one(stack, controller_factory):
    controller = controller_factory(stack, TRUSTED_PROXIES="10.0.0.9")

    offered = requests.get(controller.url + "/health", headers={"X-Request-ID": "chosen-by-client"}, timeout=TIMEOUT)
    refused = requests.get(controller.url + "/approvals/x", headers={"Host": "elsewhere.example"}, timeout=TIMEOUT)

    assert offered.headers["X-Request-ID"] != "chosen-by-client"
    assert re.fullmatch(r"[0-9a-f]{32}", offered.headers["X-Request-ID"])
    assert refused.status_code == 400 and re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])


def test_a_malformed_request_id_from_the_trusted_proxy_is_replaced(stack, controller_factory):
    controller = controller_factory(stack, TRUSTED_PROXIES="127.0.0.1")

    kept = requests.get(controller.url + "/health", headers={"X-Request-ID": "proxy-1"}, timeout=TIMEOUT)
    replaced = requests.get(controller.url + "/health", headers={"X-Request-ID": "a b\tc"}, timeout=TIMEOUT)

    assert kept.headers["X-Request-ID"] == "proxy-1"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
