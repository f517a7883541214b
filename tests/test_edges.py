"""The edges, over real HTTP: host names (DNS rebinding), other sites' pages, headers, body size, hidden characters."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from harness.controllers import add_user
from harness.orders import ORDER
from harness.waiting import wait_for

EVIL = "evil.example"


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def forged(url: str) -> dict[str, str]:
    """Headers of a page whose name an attacker resolved to 127.0.0.1: Host and Origin agree, both foreign."""
    host = f"{EVIL}:{port_of(url)}"
    return {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/pending", "/approve/{name}", "/approvals/{name}", "/", "/static/page.css"])
def test_a_forged_host_with_a_matching_origin_gets_400_from_the_controller(stack, controller, method, path):
    name = stack.start()
    controller.wait_for_pending(name)

    response = requests.request(
        method, controller.url + path.format(name=name), headers=forged(controller.url), timeout=30
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "UnknownHost"
    assert name not in response.text
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
    assert stack.describe(name)["status"] == "RUNNING"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_the_loopback_names_are_answered_on_the_port_served_only(controller, host):
    port = port_of(controller.url)

    assert requests.get(controller.url + "/pending", headers={"Host": f"{host}:{port}"}, timeout=30).status_code == 200
    assert (
        requests.get(controller.url + "/pending", headers={"Host": f"{host}:{port + 1}"}, timeout=30).status_code == 400
    )


def test_a_configured_name_is_answered_and_its_pages_may_decide(stack, controller_factory):
    controller = controller_factory(stack, ALLOWED_HOSTS="approvals.example.com, other.example:8443")
    token = {"Authorization": f"Bearer {add_user(controller.app.config['DATABASE'], 'Ada')}"}  # no local mode now
    name = stack.start()
    wait_for(lambda: requests.get(controller.url + "/pending", headers=token, timeout=30).json()["count"], 15, "it")
    proxied = {**token, "Host": "approvals.example.com", "Origin": "https://approvals.example.com"}

    other = requests.get(controller.url + "/pending", headers={**token, "Host": "other.example:8443"}, timeout=30)
    unknown = requests.get(controller.url + "/pending", headers={**token, "Host": "other.example:9999"}, timeout=30)

    assert (other.status_code, unknown.status_code) == (200, 400)
    assert requests.post(f"{controller.url}/approve/{name}", headers=proxied, timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://approvals.example.com:8080", 403),  # another port of the allowed name: another site
        ("https://approvals.example.com:8443", 403),
        ("https://other.example:8443", 200),  # the port listed with the name
        ("https://approvals.example.com", 200),
    ],
)
def test_an_origin_on_another_port_of_an_allowed_name_is_another_site(stack, controller_factory, origin, status):
    controller = controller_factory(stack, ALLOWED_HOSTS="approvals.example.com, other.example:8443")
    token = {"Authorization": f"Bearer {add_user(controller.app.config['DATABASE'], 'Ada')}"}
    name = stack.start()
    wait_for(lambda: requests.get(controller.url + "/pending", headers=token, timeout=30).json()["count"], 15, "it")

    sent = requests.post(
        f"{controller.url}/approve/{name}",
        headers={**token, "Host": "approvals.example.com", "Origin": origin},  # no Sec-Fetch-Site: an older browser
        timeout=30,
    )

    assert sent.status_code == status


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_decision_body_that_is_not_declared_json_gets_415_and_decides_nothing(stack, controller, content_type):
    name = stack.start()
    controller.wait_for_pending(name)
    headers = {"Content-Type": content_type} if content_type else {}

    sent = requests.post(
        f"{controller.url}/approve/{name}", data=json.dumps({"approver": "Mallory"}), headers=headers, timeout=30
    )

    assert (sent.status_code, sent.json()["error"]) == (415, "UnsupportedMediaType")
    assert "application/json" in sent.json()["message"]
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


def test_an_origin_must_be_an_allowed_name_even_when_the_host_is_right(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    for origin in (f"http://{EVIL}:{port_of(controller.url)}", "null", f"ftp://127.0.0.1:{port_of(controller.url)}"):
        response = requests.post(f"{controller.url}/approve/{name}", headers={"Origin": origin}, timeout=30)
        assert (response.status_code, response.json()["error"]) == (403, "CrossSiteRequest"), origin
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


@pytest.mark.parametrize("path", ["/pending", "/approvals/nothing", "/static/page.js", "/", "/no-such-route"])
def test_every_response_carries_the_security_headers(controller, path):
    for response in (controller.get(path), requests.get(controller.url + path, headers={"Host": EVIL}, timeout=30)):
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


def test_a_body_over_the_limit_gets_413_without_being_read(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    for path in (f"/approve/{name}", "/pending"):
        response = requests.post(
            controller.url + path, data=b"x" * (2 * 1024 * 1024), headers=controller.headers, timeout=30
        )
        assert response.status_code == 413, path
        assert response.json()["error"] == "RequestEntityTooLarge"
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


def test_bidi_and_control_characters_in_an_order_are_shown_neutralised_on_the_page(stack, controller):
    name = stack.start({**ORDER, "customer": {"id": "C-\x1b[31m", "name": "lun\u202eRTL"}})
    controller.wait_for_pending(name)

    page = controller.get("/").text

    assert "lun\ufffdRTL" in page and "C-\ufffd[31m" in page
    assert "\u202e" not in page and "\x1b" not in page
    assert controller.get(f"/approvals/{name}").json()["request"]["order"]["customer"]["name"] == "lun\u202eRTL"


@pytest.mark.parametrize("reason", ["lun\u202eRTL", "bell\x07", "esc\x1b[2J", "nel\x85"])
def test_a_decision_field_with_hidden_characters_is_refused_before_step_functions(stack, controller, reason):
    name = stack.start()
    controller.wait_for_pending(name)

    response = controller.post(f"/reject/{name}", {"reason": reason})

    assert (response.status_code, response.json()["error"]) == (400, "InvalidInput")
    assert stack.describe(name)["status"] == "RUNNING"
    assert controller.post(f"/reject/{name}", {"reason": "two\nlines\tand a tab"}).status_code == 200


# --- the emulator ------------------------------------------------------------------------------------------------


def test_a_forged_host_gets_400_from_the_gateway_and_starts_nothing(emulator):
    url = emulator.outputs["api_url"]
    sfn = emulator.client("stepfunctions")
    before = len(sfn.list_executions(stateMachineArn=emulator.outputs["state_machine_arn"])["executions"])

    posted = requests.post(
        url, data=json.dumps(ORDER), headers={**forged(url), "Content-Type": "application/json"}, timeout=30
    )
    got = requests.get(url, headers=forged(url), timeout=30)

    assert (posted.status_code, got.status_code) == (400, 400)
    assert len(sfn.list_executions(stateMachineArn=emulator.outputs["state_machine_arn"])["executions"]) == before
    assert requests.post(url, json=ORDER, headers={"Origin": f"http://{EVIL}"}, timeout=30).status_code == 403


def test_the_aws_endpoint_answers_no_other_host_and_no_other_sites_page(emulator):
    endpoint = emulator.outputs["aws_endpoint_url"]
    queue_url = emulator.outputs["approval_queue_url"]
    receive = {"Action": "ReceiveMessage", "QueueUrl": queue_url}
    preflight = {
        "Origin": f"http://{EVIL}",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }

    rebound = requests.post(endpoint, data=receive, headers=forged(endpoint), timeout=30)
    cross_site = requests.options(endpoint, headers=preflight, timeout=30)
    from_page = requests.post(endpoint, data=receive, headers={"Origin": f"http://{EVIL}"}, timeout=30)

    assert rebound.status_code == 400
    assert cross_site.status_code == 403 and "Access-Control-Allow-Origin" not in cross_site.headers
    assert from_page.status_code == 403 and "Access-Control-Allow-Origin" not in from_page.headers
    sqs = boto3.client(
        "sqs", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert "Access-Control-Allow-Origin" not in sqs.list_queues()["ResponseMetadata"]["HTTPHeaders"]
