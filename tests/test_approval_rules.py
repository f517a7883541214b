"""Approval rules over real HTTP: executions in the emulator, approvers signed in with their tokens; and the policy
file through `python -m controller`, as an operator checks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness.controllers import HTTP_TIMEOUT_SECONDS, ServedController
from harness.orders import ORDER
from harness.policies import LARGE_ORDERS_RULES
from stack.paths import PROJECT_ROOT

POLICY = LARGE_ORDERS_RULES + "self_approval: false\nrequire_reject_reason: true\n"
PEOPLE = {"alice": ("finance",), "carol": ("finance", "ops"), "dave": ("finance",), "bob": ("ops",)}


def order_of(total: float, **fields: Any) -> dict[str, Any]:
    """An order whose items add up to total, asked for by dave."""
    return {**ORDER, "items": [{"sku": "GPU-1", "quantity": 1, "unit_price": total}], "requested_by": "dave", **fields}


class Approvers:
    """A controller under POLICY, and a way to call it as each of PEOPLE."""

    def __init__(self, controller: ServedController, tokens: dict[str, str]) -> None:
        self.controller, self.tokens = controller, tokens

    def post(self, who: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return requests.post(self.controller.url + path, json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    def get(self, path: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens['bob']}"}
        return requests.get(self.controller.url + path, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    def wait_for_pending(self, name: str) -> dict[str, Any]:
        self.controller.headers = {"Authorization": f"Bearer {self.tokens['bob']}"}
        return self.controller.wait_for_pending(name)


@pytest.fixture
def approvers(stack, controller_factory, store_under_test, tmp_path: Path) -> Approvers:
    (tmp_path / "policy.yaml").write_text(POLICY)
    tokens = {name: store_under_test.add_user(name, groups=groups) for name, groups in PEOPLE.items()}
    return Approvers(controller_factory(stack, POLICY_FILE=str(tmp_path / "policy.yaml")), tokens)


@pytest.mark.both_stores  # the rules hold on either store
def test_an_order_at_the_threshold_needs_two_distinct_finance_approvers(stack, approvers):
    name = stack.start(order_of(1000))
    listed = approvers.wait_for_pending(name)

    first = approvers.post("alice", f"/approve/{name}", {"comment": "checked the quote"})
    looked_up = approvers.get(f"/approvals/{name}").json()["request"]
    again = approvers.post("alice", f"/approve/{name}")
    outsider = approvers.post("bob", f"/approve/{name}")
    requester = approvers.post("dave", f"/approve/{name}")
    running = stack.describe(name)["status"]
    second = approvers.post("carol", f"/approve/{name}")

    assert listed["rule"]["summary"] == "large orders: 2 of members of finance"
    assert (first.status_code, first.json()["state"], first.json()["approvals_required"]) == (200, "pending", 2)
    assert [(a["approver"], a["comment"]) for a in looked_up["approvals"]] == [("alice", "checked the quote")]
    assert (again.status_code, again.json()["error"]) == (409, "AlreadyApproved")
    assert (outsider.status_code, outsider.json()["error"]) == (403, "NotAllowed")
    assert "only members of finance may decide; bob is in ops" in outsider.json()["message"]
    assert (requester.status_code, requester.json()["error"]) == (403, "NotAllowed")
    assert "dave requested this order" in requester.json()["message"]
    assert running == "RUNNING"
    assert (second.status_code, second.json()["state"]) == (200, "approved"), second.text
    execution = stack.wait_until_finished(name)
    approval = json.loads(execution["output"])["approval"]
    assert execution["status"] == "SUCCEEDED"
    assert (approval["approver"], approval["rule"]) == ("carol", "large orders")
    assert [given["approver"] for given in approval["approvals"]] == ["alice", "carol"]
    assert all(set(given) == {"approver", "at", "comment"} for given in approval["approvals"])


@pytest.mark.both_stores  # the rules hold on either store
def test_an_order_just_below_the_threshold_is_decided_by_any_approver_alone(stack, approvers):
    name = stack.start(order_of(999.99))
    listed = approvers.wait_for_pending(name)

    approved = approvers.post("bob", f"/approve/{name}")

    assert (listed["rule"]["name"], listed["approvals_required"]) == ("everything else", 1)
    assert (approved.status_code, approved.json()["state"]) == (200, "approved"), approved.text
    output = json.loads(stack.wait_until_finished(name)["output"])["approval"]
    assert (output["rule"], [given["approver"] for given in output["approvals"]]) == ("everything else", ["bob"])


@pytest.mark.both_stores  # the rules hold on either store
def test_one_eligible_rejection_ends_a_request_that_has_approvals(stack, approvers):
    name = stack.start(order_of(5000))
    approvers.wait_for_pending(name)
    assert approvers.post("alice", f"/approve/{name}").json()["state"] == "pending"

    without_reason = approvers.post("carol", f"/reject/{name}")
    outsider = approvers.post("bob", f"/reject/{name}", {"reason": "no"})
    rejected = approvers.post("carol", f"/reject/{name}", {"reason": "Over budget."})

    assert (without_reason.status_code, without_reason.json()["error"]) == (400, "InvalidInput")
    assert "needs a reason to reject" in without_reason.json()["message"]
    assert outsider.status_code == 403
    assert (rejected.status_code, rejected.json()["state"]) == (200, "rejected"), rejected.text
    execution = stack.wait_until_finished(name)
    assert (execution["status"], execution["error"], execution["cause"]) == ("FAILED", "Rejected", "Over budget.")
    assert approvers.post("dave", f"/approve/{name}").status_code == 403
    assert approvers.post("alice", f"/approve/{name}").json()["error"] == "AlreadyApproved"


@pytest.mark.both_stores  # the rules hold on either store
def test_the_last_two_approvals_racing_decide_exactly_once(stack, approvers):
    name = stack.start(order_of(1000))
    approvers.wait_for_pending(name)
    assert approvers.post("dave", f"/approve/{name}").status_code == 403
    answers: dict[str, requests.Response] = {}

    def approve(who: str) -> None:
        answers[who] = approvers.post(who, f"/approve/{name}")

    racers = [threading.Thread(target=approve, args=(who,)) for who in ("alice", "carol")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    assert sorted(answer.json()["state"] for answer in answers.values()) == ["approved", "pending"]
    output = json.loads(stack.wait_until_finished(name)["output"])["approval"]
    assert sorted(given["approver"] for given in output["approvals"]) == ["alice", "carol"]


@pytest.mark.both_stores  # the rules hold on either store
def test_an_approval_survives_a_restart_and_the_rule_stays_with_the_request(
    stack, approvers, controller_factory, tmp_path
):
    name = stack.start(order_of(1000))
    approvers.wait_for_pending(name)
    assert approvers.post("alice", f"/approve/{name}").json()["state"] == "pending"
    approvers.controller.stop()
    (tmp_path / "policy.yaml").write_text("rules:\n  - name: anyone\n")  # a new policy moves no waiting request

    restarted = Approvers(controller_factory(stack, POLICY_FILE=str(tmp_path / "policy.yaml")), approvers.tokens)
    kept = restarted.get(f"/approvals/{name}").json()["request"]
    outsider = restarted.post("bob", f"/approve/{name}")
    second = restarted.post("carol", f"/approve/{name}")

    assert ([given["approver"] for given in kept["approvals"]], kept["rule"]["name"]) == (["alice"], "large orders")
    assert outsider.status_code == 403
    assert second.json()["state"] == "approved", second.text


@pytest.mark.both_stores  # the rules hold on either store
def test_bulk_decisions_apply_the_rule_to_each_id(stack, approvers):
    large, small = stack.start(order_of(1000)), stack.start(order_of(10))
    approvers.wait_for_pending(large)
    approvers.wait_for_pending(small)

    by_bob = approvers.post("bob", "/approve", {"ids": [large, small]}).json()
    by_alice = approvers.post("alice", "/approve", {"ids": [large]}).json()

    assert [(result["id"], result["status"]) for result in by_bob["results"]] == [(large, 403), (small, 200)]
    assert by_alice["results"][0]["request"]["state"] == "pending"
    trail = approvers.post("alice", "/approve", {"ids": [large]}).json()["results"][0]
    assert (trail["status"], trail["error"]) == (409, "AlreadyApproved")
    outcomes = [event["outcome"] for event in approvers_trail(approvers, large)]
    assert outcomes == ["NotAllowed", "approval 1 of 2", "AlreadyApproved"]


@pytest.mark.both_stores  # the rules hold on either store
def test_the_metrics_count_the_pending_requests_of_each_rule(stack, approvers):
    large, small, other_small = (stack.start(order_of(total)) for total in (1000, 10, 20))
    for name in (large, small, other_small):
        approvers.wait_for_pending(name)
    assert approvers.post("alice", f"/approve/{large}").json()["state"] == "pending"  # 1 of 2: still waiting
    assert approvers.post("bob", f"/approve/{other_small}").json()["state"] == "approved"

    scrape = approvers.get("/metrics")

    assert scrape.status_code == 200, scrape.text
    families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
    waiting = {s.labels["rule"]: s.value for s in families["controller_pending_requests_by_rule"].samples}
    oldest = {s.labels["rule"]: s.value for s in families["controller_pending_oldest_age_by_rule_seconds"].samples}
    assert waiting == {"large orders": 1, "everything else": 1}
    assert set(oldest) == {"large orders", "everything else"} and all(age > 0 for age in oldest.values())
    assert families["controller_pending_requests"].samples[0].value == 2


def approvers_trail(approvers: Approvers, name: str) -> list[dict[str, Any]]:
    return approvers.get(f"/approvals/{name}/audit").json()["events"]


def test_without_sign_in_a_request_under_a_rule_is_not_decided(stack, controller_factory, tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    controller = controller_factory(stack, POLICY_FILE=str(tmp_path / "policy.yaml"))
    name = stack.start(order_of(10))
    controller.wait_for_pending(name)

    refused = controller.post(f"/approve/{name}", {"approver": "Grace"})

    assert (refused.status_code, refused.json()["error"]) == (403, "NotAllowed")
    assert "sign in" in refused.json()["message"]
    assert stack.describe(name)["status"] == "RUNNING"


def _controller(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment},
        timeout=60,
        check=False,
    )


def test_policy_check_says_which_rule_applies_to_an_order_as_posted(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    big = {**ORDER, "requested_by": "bob", "items": [{"sku": "GPU-1", "quantity": 2, "unit_price": 500}]}
    (tmp_path / "order.json").write_text(json.dumps(big))

    checked = _controller("policy", "check", str(tmp_path / "policy.yaml"), "--order", str(tmp_path / "order.json"))

    assert checked.returncode == 0, checked.stderr
    assert "valid. 2 rule(s); self-approval refused; rejections need a reason" in checked.stdout
    assert "(total 1000.0 EUR): rule 'large orders' applies." in checked.stdout
    assert "It needs 2 approval(s) by distinct people: members of finance." in checked.stdout
    assert "bob requested it and may not decide it." in checked.stdout


def test_policy_check_refuses_an_order_the_order_lambda_refuses(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "order.json").write_text(json.dumps({**ORDER, "requested_by": ""}))

    checked = _controller("policy", "check", str(tmp_path / "policy.yaml"), "--order", str(tmp_path / "order.json"))

    assert checked.returncode == 1
    assert "order.requested_by has a length outside the allowed range" in checked.stderr


def test_a_controller_with_a_bad_policy_file_does_not_start_and_names_the_rule_and_field(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY.replace("approvals: 2", "approvals: two"))

    served = _controller(
        APPROVAL_QUEUE_URL="http://127.0.0.1:9/000000000000/nowhere",
        CONTROLLER_DATABASE=str(tmp_path / "db.sqlite3"),
        CONTROLLER_POLICY_FILE=str(tmp_path / "policy.yaml"),
        CONTROLLER_BACKGROUND="false",
    )

    assert served.returncode == 1
    assert "rule 1 ('large orders'), field approvals: 'two' is not of type 'integer'" in served.stderr
    assert "controller ready" not in served.stdout
