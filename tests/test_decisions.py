"""End to end over real HTTP: executions in the emulator, decisions through the controller."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest
import requests
from botocore.exceptions import ReadTimeoutError

from controller.approval import executions
from controller.storage.context import backend_of
from harness import peek
from harness.orders import ORDER
from harness.stacks import make_stack
from harness.waiting import wait_for

pytestmark = pytest.mark.both_sign_in_modes


def stored_token(controller) -> str:
    (token,) = peek.task_tokens(controller.app.config["DATABASE"])
    return token


@pytest.mark.both_stores
def test_an_approved_order_succeeds_with_the_approvers_output(stack, controller):
    name = stack.start()
    pending = controller.wait_for_pending(name)
    assert pending["order"]["total"] == 28.0
    assert pending["order"]["status"] == "PROCESSED"

    response = controller.post(f"/approve/{name}", {"approver": "Grace", "comment": "fine"})

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "approved"
    execution = stack.wait_until_finished(name)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["approval"] == {"status": "APPROVED", "approver": "Grace", "comment": "fine"}


@pytest.mark.both_stores
def test_a_rejected_order_fails_with_the_reason_as_its_cause(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    response = controller.post(f"/reject/{name}", {"reason": "Customer is over the credit limit."})

    assert response.status_code == 200, response.text
    execution = stack.wait_until_finished(name)
    assert (execution["status"], execution["error"]) == ("FAILED", "Rejected")
    assert execution["cause"] == "Customer is over the credit limit."


def test_an_order_the_lambda_rejects_fails_with_the_processing_cause(stack):
    name = stack.start({**ORDER, "items": ORDER["items"] + [ORDER["items"][0]]})

    execution = stack.wait_until_finished(name)

    assert (execution["status"], execution["error"]) == ("FAILED", "InvalidOrder")
    assert json.loads(execution["cause"])["errorMessage"] == "Order ORD-1001 lists SKU BOOK-1 more than once."
    assert stack.queue_depth() == 0


def test_an_order_started_directly_is_still_checked_against_the_schema(stack):
    name = stack.start({"order_id": "ORD-2", "items": []})

    execution = stack.wait_until_finished(name)

    assert execution["error"] == "InvalidOrder"
    assert "order.customer is required" in json.loads(execution["cause"])["errorMessage"]


@pytest.mark.both_stores
def test_a_request_past_its_timeout_fails_and_a_late_approve_gets_410(expired_request):
    controller, name, execution = expired_request.controller, expired_request.name, expired_request.execution

    response = controller.post(f"/approve/{name}")

    assert (execution["status"], execution["error"]) == ("FAILED", "ApprovalTimedOut")
    assert response.status_code == 410, response.text
    assert response.json()["error"] == "RequestExpired"
    assert name not in [r["id"] for r in controller.get("/pending").json()["pending"]]


def test_a_late_approve_is_refused_even_before_the_controller_notices_the_expiry(expired_request):
    controller, name = expired_request.controller, expired_request.name
    peek.query(
        controller.app.config["DATABASE"], "UPDATE approval_requests SET expires_at = '9999-12-31T00:00:00.000+00:00'"
    )

    response = controller.post(f"/approve/{name}")

    assert response.status_code == 410, response.text
    assert response.json()["state"] == "expired"


@pytest.mark.both_stores
def test_a_second_approve_gets_409_saying_what_was_decided(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    assert controller.post(f"/approve/{name}", {"approver": "Grace"}).status_code == 200

    second = controller.post(f"/reject/{name}", {"reason": "changed my mind"})

    assert second.status_code == 409
    assert second.json()["state"] == "approved"
    assert "was already approved" in second.json()["message"]
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_concurrent_approves_of_one_request_make_exactly_one_decision(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: controller.post(f"/approve/{name}").status_code, range(8)))

    assert statuses == [200] + [409] * 7
    history = stack.emulator.client("stepfunctions").get_execution_history(executionArn=stack.execution_arn(name))
    approvals = [e for e in history["events"] if e.get("taskSucceededEventDetails", {}).get("resourceType") == "sqs"]
    assert len(approvals) == 1


@pytest.mark.both_stores
def test_an_unknown_id_gets_404(controller):
    response = controller.post("/approve/no-such-request")

    assert response.status_code == 404
    assert response.json()["error"] == "RequestNotFound"
    assert controller.get("/approvals/no-such-request").status_code == 404


@pytest.mark.both_stores
def test_approve_without_an_id_needs_exactly_one_pending_request(stack, controller, auth_mode):
    assert controller.post("/approve").status_code == 404
    first, second = stack.start(), stack.start()
    controller.wait_for_pending(first)
    controller.wait_for_pending(second)

    ambiguous = controller.post("/approve")

    assert ambiguous.status_code == 409
    assert sorted(ambiguous.json()["pending"]) == sorted([first, second])
    assert controller.post(f"/reject/{first}").status_code == 200
    if auth_mode == "signed-in":  # signed in, the shortcut needs the digest of the order that was seen
        unnamed = controller.post("/approve")
        assert (unnamed.status_code, unnamed.json()["error"], unnamed.json()["pending"]) == (
            409,
            "RequestNotNamed",
            [second],
        )
        shown = controller.get(f"/approvals/{second}").json()["request"]["order_digest"]
        assert controller.post("/approve", {"expected_order_digest": shown}).json()["id"] == second
    else:
        assert controller.post("/approve").json()["id"] == second


@pytest.mark.both_stores
def test_a_decision_for_another_order_than_the_one_seen_gets_412_and_decides_nothing(stack, controller):
    seen, arrived = stack.start(), stack.start(dict(ORDER, order_id="ORD-LATE"))
    seen_digest = controller.wait_for_pending(seen)["order_digest"]
    controller.wait_for_pending(arrived)
    assert controller.post(f"/reject/{seen}").status_code == 200  # the one seen is gone; another is the only one

    for path in ("/approve", f"/approve/{arrived}", f"/reject/{arrived}"):
        refused = controller.post(path, {"expected_order_digest": seen_digest})
        assert (refused.status_code, refused.json()["error"]) == (412, "OrderChanged"), path

    assert controller.get(f"/approvals/{arrived}").json()["request"]["state"] == "pending"
    assert stack.describe(arrived)["status"] == "RUNNING"


@pytest.mark.parametrize("digest", ["", "abc", "A" * 64, 42, None])
def test_an_expected_order_digest_that_is_no_digest_gets_400(stack, controller, digest):
    name = stack.start()
    controller.wait_for_pending(name)

    refused = controller.post(f"/approve/{name}", {"expected_order_digest": digest})

    assert (refused.status_code, refused.json()["error"]) == (400, "InvalidInput")
    assert controller.post("/approve", {"ids": [name], "expected_order_digest": "0" * 64}).status_code == 400
    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"


def test_a_malformed_decision_body_gets_400_and_changes_nothing(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    for body in (
        '{"reason": 5}',
        "[1, 2]",
        "not json",
        '{"reason": "x", "extra": 1}',
        json.dumps({"comment": "x" * 1001}),
    ):
        response = controller.app.test_client().post(
            f"/reject/{name}", data=body, content_type="application/json", headers=controller.headers
        )
        assert response.status_code == 400, body
    assert controller.post(f"/approve/{name}", {"reason": "approve takes no reason"}).status_code == 400

    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
    assert stack.describe(name)["status"] == "RUNNING"


def test_aws_unreachable_gets_503_and_the_request_stays_pending(stack, controller, controller_factory):
    name = stack.start()
    controller.wait_for_pending(name)
    offline = controller_factory(stack, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS=2)

    response = offline.post(f"/approve/{name}")

    assert response.status_code == 503
    assert response.json()["error"] == "AwsUnavailable"
    assert offline.get("/pending").json()["warnings"]
    assert controller.post(f"/approve/{name}").status_code == 200
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_a_crash_between_store_and_delete_leaves_no_duplicate(emulator, controller_process, tmp_path):
    stack = make_stack(emulator, visibility_timeout_seconds=1)
    database = tmp_path / "approvals.sqlite3"
    controller = controller_process(stack, database, crash_at="before-call.sqs.DeleteMessageBatch")
    name = stack.start()
    wait_for(lambda: stack.queue_depth() == 1, 15, "the approval request on the queue")

    controller.call_until_crashed("GET", "/pending")
    controller.restart()
    controller.wait_until_ready()
    wait_for(lambda: controller.get("/pending") and stack.queue_depth() == 0, 15, "the redelivered message to be taken")

    assert [r["id"] for r in controller.get("/pending").json()["pending"]] == [name]
    assert controller.post(f"/approve/{name}").status_code == 200
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


@pytest.mark.parametrize("event", ["before-call.states.SendTaskSuccess", "after-call.states.SendTaskSuccess"])
def test_a_decision_cut_short_by_a_crash_is_finished_on_restart_exactly_once(
    stack, controller_process, tmp_path, event
):
    controller = controller_process(stack, tmp_path / "approvals.sqlite3", crash_at=event)
    name = stack.start()
    wait_for(lambda: controller.get(f"/approvals/{name}").ok, 15, "the request to be stored")

    controller.call_until_crashed("POST", f"/approve/{name}")
    controller.restart()
    controller.wait_until_ready()

    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "approved"
    assert controller.post(f"/reject/{name}").status_code == 409
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"
    history = stack.emulator.client("stepfunctions").get_execution_history(executionArn=stack.execution_arn(name))
    approvals = [e for e in history["events"] if e.get("taskSucceededEventDetails", {}).get("resourceType") == "sqs"]
    assert len(approvals) == 1


@pytest.mark.both_stores
def test_a_request_whose_execution_is_gone_is_no_longer_pending(stack, controller_factory):
    # moto's StopExecution leaves a waiting execution RUNNING, so "gone" (as after an emulator
    # restart) is the way an execution stops waiting here without a decision or a timeout
    controller = controller_factory(stack, LIVENESS_CHECK_SECONDS=0)
    name = stack.start()
    controller.wait_for_pending(name)

    stack.emulator.client("stepfunctions").delete_state_machine(stateMachineArn=stack.state_machine_arn)

    # the background upkeep looks at the execution within a second
    wait_for(
        lambda: name not in [r["id"] for r in controller.get("/pending").json()["pending"]],
        15,
        "the request to leave /pending",
    )
    looked_up = controller.get(f"/approvals/{name}").json()
    assert (looked_up["request"]["state"], looked_up["request"]["closed_reason"]) == (
        "closed",
        "The execution no longer exists.",
    )
    assert looked_up["execution"]["status"] == "DOES_NOT_EXIST"
    assert controller.post(f"/approve/{name}").status_code == 410


def test_no_response_ever_contains_a_task_token(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    token = stored_token(controller)

    bodies = [
        controller.get("/pending").text,
        controller.get(f"/approvals/{name}").text,
        controller.post(f"/approve/{name}").text,
    ]
    bodies.append(controller.post(f"/approve/{name}").text)

    assert len(token) > 10
    assert not [body for body in bodies if token in body]


def test_a_decision_sent_by_another_sites_page_is_refused(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    for headers in (
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://localhost:8080"},
    ):
        response = requests.post(
            f"{controller.url}/approve/{name}", headers={**controller.headers, **headers}, timeout=10
        )
        assert response.status_code == 403, headers
        assert response.json()["error"] == "CrossSiteRequest"

    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
    same_origin = requests.post(
        f"{controller.url}/approve/{name}", headers={**controller.headers, "Origin": controller.url}, timeout=10
    )
    assert same_origin.status_code == 200


def test_only_post_changes_state(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)

    for method in ("GET", "PUT", "DELETE", "PATCH"):
        for path in (f"/approve/{name}", f"/reject/{name}", "/approve"):
            response = requests.request(method, controller.url + path, headers=controller.headers, timeout=10)
            assert response.status_code == 405, (method, path)
            assert response.json()["error"] == "MethodNotAllowed"

    assert controller.get(f"/approvals/{name}").json()["request"]["state"] == "pending"
    assert stack.describe(name)["status"] == "RUNNING"


@pytest.mark.both_stores
def test_a_decision_whose_answer_was_lost_is_finished_by_a_later_pending(stack, controller, controller_factory):
    name = stack.start()
    controller.wait_for_pending(name)

    def lose_the_answer(**_: object) -> None:
        raise ReadTimeoutError(endpoint_url=stack.emulator.outputs["aws_endpoint_url"])

    controller.app.extensions["aws"]["stepfunctions"].meta.events.register(
        "after-call.sfn.SendTaskSuccess", lose_the_answer
    )

    unknown = controller.post(f"/approve/{name}")
    assert (unknown.status_code, unknown.json()["error"]) == (503, "AwsUnavailable")
    assert "not known yet" in unknown.json()["message"]
    assert controller.post(f"/reject/{name}").json()["state"] == "deciding"
    later = controller_factory(stack, CLAIM_STALE_SECONDS=0)
    later.get("/pending")

    assert later.get(f"/approvals/{name}").json()["request"]["state"] == "approved"
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


@pytest.mark.both_stores
def test_a_liveness_check_never_overwrites_a_decision_made_meanwhile(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    backend = backend_of(controller.app)
    with closing(backend.open()) as store:
        seen_while_pending = store.get_request(name)
    assert controller.post(f"/approve/{name}", {"approver": "Grace"}).status_code == 200
    stack.wait_until_finished(name)

    with closing(backend.open()) as store:
        executions.settle_pending(store, stack.emulator.client("stepfunctions"), seen_while_pending)

    stored = controller.get(f"/approvals/{name}").json()["request"]
    assert (stored["state"], stored["approver"]) == ("approved", "Grace")


def test_an_ended_executions_status_is_kept_and_not_asked_for_again(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    controller.post(f"/approve/{name}")
    stack.wait_until_finished(name)
    asked = []
    controller.app.extensions["aws"]["stepfunctions"].meta.events.register(
        "before-call.sfn.DescribeExecution", lambda **_: asked.append(1)
    )

    looks = [controller.get(f"/approvals/{name}").json()["execution"]["status"] for _ in range(3)]

    assert looks == ["SUCCEEDED"] * 3
    assert len(asked) == 1
