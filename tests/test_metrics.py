"""GET /metrics: a Prometheus scrape, parsed with the client library's parser, matches a scripted run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness.controllers import add_user
from harness.stacks import make_stack
from harness.waiting import free_port, wait_for

ALERT_RULES = Path(__file__).parents[1] / "docs" / "alerts.yml"
METRICS_TOKEN = "m" * 40


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Return every sample of a scrape by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float | None:
    return scrape.get((name, frozenset(labels.items())))


def calls(scrape: dict, service: str, operation: str, outcome: str = "ok") -> float | None:
    return value(scrape, "controller_aws_calls_total", service=service, operation=operation, outcome=outcome)


def state_of(controller, request_id: str) -> str | None:
    """The request's state, or None while the controller has not stored it yet."""
    response = controller.get(f"/approvals/{request_id}")
    return response.json()["request"]["state"] if response.status_code == 200 else None


def scrape_of(controller) -> dict:
    response = controller.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.text)


def test_a_scrape_matches_a_scripted_run_of_approvals_a_rejection_and_an_expiry(emulator, controller_factory):
    # GIVEN two controllers of one store: one for a normal stack, one whose requests expire in 2 s
    stack, short = make_stack(emulator), make_stack(emulator, approval_timeout_seconds=2)
    deciding, expiring = controller_factory(stack), controller_factory(short)
    names = [stack.start() for _ in range(4)]
    late = short.start()
    for name in names:
        deciding.wait_for_pending(name)

    # WHEN three are approved, one rejected, one approved twice (refused) and one runs out of time
    for name in names[:3]:
        assert deciding.post(f"/approve/{name}").status_code == 200
    assert deciding.post(f"/reject/{names[3]}", {"reason": "Out of stock"}).status_code == 200
    assert deciding.post(f"/approve/{names[0]}").status_code == 409
    # (a loaded machine may pull the short request only after its 2 s have passed: it is then stored and expired)
    short.wait_until_finished(late)
    wait_for(lambda: state_of(expiring, late) == "expired", 30, "the expiry")

    # THEN the shared state is the same from either controller, and each counts its own calls
    scrape = scrape_of(deciding)
    for outcome, count in {"approved": 3, "rejected": 1, "expired": 1, "closed": 0}.items():
        assert value(scrape, "controller_decisions_total", outcome=outcome) == count
    assert value(scrape, "controller_time_to_decision_seconds_count") == 4
    assert value(scrape, "controller_time_to_decision_seconds_bucket", le="+Inf") == 4
    assert value(scrape, "controller_pending_requests") == 0
    assert value(scrape, "controller_pending_next_expiry_seconds") is None
    assert value(scrape, "controller_refused_attempts_total", code="AlreadyDecided") == 1
    assert calls(scrape, "stepfunctions", "SendTaskSuccess") == 3
    assert calls(scrape, "stepfunctions", "SendTaskFailure") == 1
    assert (
        value(
            scrape, "controller_aws_call_duration_seconds_count", service="stepfunctions", operation="SendTaskSuccess"
        )
        == 3
    )
    other = scrape_of(expiring)
    assert value(other, "controller_decisions_total", outcome="approved") == 3
    assert calls(other, "stepfunctions", "SendTaskSuccess") is None
    assert calls(other, "sqs", "ReceiveMessage") >= 1


def test_the_pending_series_count_the_waiting_requests_and_their_age(stack, controller):
    names = [stack.start() for _ in range(2)]
    for name in names:
        controller.wait_for_pending(name)

    scrape = scrape_of(controller)

    assert value(scrape, "controller_pending_requests") == 2
    assert value(scrape, "controller_pending_oldest_age_seconds") > 0
    assert 0 < value(scrape, "controller_pending_next_expiry_seconds") <= 3600
    assert value(scrape, "controller_notifications", status="waiting") == 0


def test_aws_calls_that_get_no_answer_are_counted_under_the_exception(stack, controller_factory):
    controller = controller_factory(stack, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_MAX_ATTEMPTS=1)

    def unreachable() -> float | None:
        return calls(scrape_of(controller), "sqs", "ReceiveMessage", "EndpointConnectionError")

    assert wait_for(unreachable, 15, "a failed pull to be counted") >= 1
    assert calls(scrape_of(controller), "sqs", "ReceiveMessage") is None


def test_the_background_loops_report_their_last_success(stack, controller):
    def reported() -> dict | None:
        scrape = scrape_of(controller)
        loops = {"pull", "upkeep"}
        found = {
            loop for loop in loops if value(scrape, "controller_background_last_success_timestamp_seconds", loop=loop)
        }
        return scrape if found == loops else None

    wait_for(reported, 15, "both loops to report a success")


def test_an_open_event_stream_is_counted_while_it_lasts(controller):
    with requests.get(controller.url + "/events", stream=True, timeout=30) as stream:
        next(stream.iter_lines())  # the retry line: the stream is open
        assert value(scrape_of(controller), "controller_event_streams_open") == 1
    wait_for(lambda: value(scrape_of(controller), "controller_event_streams_open") == 0, 35, "the stream to close")


def test_signed_in_metrics_need_a_users_token_or_the_metrics_token(stack, controller_factory, tmp_path):
    database = tmp_path / "approvals.sqlite3"
    viewer = add_user(database, "Vera", role="viewer")
    controller = controller_factory(stack, METRICS_TOKEN=METRICS_TOKEN)

    def status(path: str, token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(controller.url + path, headers=headers, timeout=30).status_code

    assert status("/metrics", None) == 401
    assert status("/metrics", "not-a-token") == 401
    assert status("/metrics", viewer) == 200
    assert status("/metrics", METRICS_TOKEN) == 200
    assert status("/pending", METRICS_TOKEN) == 401  # it reads metrics, nothing else


def test_a_short_metrics_token_is_refused_at_start(stack, controller_factory):
    with pytest.raises(Exception, match="CONTROLLER_METRICS_TOKEN must be at least 32 characters"):
        controller_factory(stack, METRICS_TOKEN="short")


def test_the_example_alert_rules_name_only_series_a_scrape_has(stack, controller):
    controller.wait_for_pending(stack.start())  # so that the pending series are all present
    names = {name for name, _ in scrape_of(controller)}
    named = set(re.findall(r"\bcontroller_[a-z_]+", ALERT_RULES.read_text()))

    assert named and named <= names, named - names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (.ci/run installs prometheus)")
def test_the_example_alert_rules_pass_promtool():
    checked = subprocess.run(
        ["promtool", "check", "rules", str(ALERT_RULES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
