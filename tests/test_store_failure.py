"""A store that cannot be written: nothing is taken from SQS that cannot be stored, nothing reaches the
dead-letter queue because of it, and approval requests found on the dead-letter queue come back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from controller.core.config import load_config
from harness.disk import CannotMount, Disk, small_disk
from harness.stacks import make_stack
from harness.waiting import wait_for

# The queue's redrive settings for these tests: a message received twice without being deleted moves
# to the dead-letter queue after 2 x 1 s. The outage lasts ten times that, as ten minutes are twice
# the 5 x 60 s after which the stack's own queue would move a request the controller could not store.
VISIBILITY_SECONDS, MAX_RECEIVE_COUNT = 1, 2
OUTAGE_SECONDS = 10 * VISIBILITY_SECONDS * MAX_RECEIVE_COUNT


@pytest.fixture
def disk() -> Iterator[Disk]:
    try:
        with small_disk() as mounted:
            yield mounted
    except CannotMount as error:
        pytest.skip(str(error))


def test_while_the_disk_is_full_nothing_reaches_the_dead_letter_queue_and_afterwards_every_request_is_decidable(
    emulator, disk, controller_factory
):
    stack = make_stack(emulator, visibility_timeout_seconds=VISIBILITY_SECONDS, max_receive_count=MAX_RECEIVE_COUNT)
    # not reading the dead-letter queue, this controller leaves there whatever reached it
    controller = controller_factory(stack, DATABASE=str(disk.path / "approvals.sqlite3"), DEAD_LETTER_QUEUE_URL=None)
    before = stack.start()
    controller.wait_for_pending(before)

    disk.fill()
    names, health, dead, deadline = [], [], [], time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < deadline:  # orders keep arriving throughout, from the moment the disk is full
        names.append(stack.start())
        health.append(controller.get("/health"))
        dead.append(stack.dead_letter_depth())
        time.sleep(OUTAGE_SECONDS / 10)
    listing, refused = controller.get("/pending").json(), controller.post(f"/approve/{before}")
    disk.free()

    assert max(dead) == 0
    assert health[-1].status_code == 503 and 503 in [answer.status_code for answer in health[: len(health) // 2]]
    failing = health[-1].json()
    assert (failing["status"], failing["store"]) == ("failing", "database or disk is full")
    assert [r["id"] for r in listing["pending"]] == [before]
    assert listing["store"]["failure"] == "database or disk is full"
    assert any("The store is failing" in warning for warning in listing["warnings"])
    assert (refused.status_code, refused.json()["error"]) == (503, "StoreUnavailable")
    assert "database or disk is full" in refused.json()["message"]
    wait_for(lambda: controller.get("/health").status_code == 200, 30, "/health to say ok again")
    for name in names:
        controller.wait_for_pending(name, timeout=30)
    decided = controller.post("/approve", {"ids": [before, *names]}).json()
    assert decided["decided"] == len(names) + 1, decided
    assert stack.dead_letter_depth() == 0
    assert stack.wait_until_finished(names[-1])["status"] == "SUCCEEDED"


def test_the_page_says_the_store_is_failing(emulator, disk, controller_factory):
    stack = make_stack(emulator)
    controller = controller_factory(stack, DATABASE=str(disk.path / "approvals.sqlite3"))
    name = stack.start()
    controller.wait_for_pending(name)

    disk.fill()
    wait_for(lambda: controller.get("/health").status_code == 503, 15, "/health 503")
    page = controller.get("/")
    disk.free()

    assert page.status_code == 200
    assert "The store is failing (database or disk is full)" in page.text
    assert name in page.text


def test_an_approval_request_put_on_the_dead_letter_queue_by_hand_is_stored_and_removed_there(
    emulator, controller_factory
):
    stack = make_stack(emulator, max_receive_count=5)
    sqs = emulator.client("sqs")
    name = stack.start()
    # the message a controller of before this check could not store, moved on by the redrive policy
    (message,) = wait_for(lambda: sqs.receive_message(QueueUrl=stack.queue_url).get("Messages"), 15, "the request")
    sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=message["Body"])
    sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody="not an approval request")

    controller = controller_factory(stack, DEAD_LETTER_CHECK_SECONDS=1)
    controller.wait_for_pending(name)
    counted = wait_for(lambda: controller.get("/pending").json()["dead_letters"]["count"] == 1, 15, "the count")

    assert counted
    assert stack.dead_letter_depth() == 1  # the other message stays for a person to look at
    assert any("1 message(s) on the dead-letter queue" in w for w in controller.get("/pending").json()["warnings"])
    assert controller.post(f"/approve/{name}").status_code == 200
    assert stack.wait_until_finished(name)["status"] == "SUCCEEDED"


def test_the_emulators_stack_gives_the_controller_the_dead_letter_queue_its_approval_queue_redrives_to(
    emulator, tmp_path
):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({key: {"value": value} for key, value in emulator.outputs.items()}))
    sqs = emulator.client("sqs")

    config = load_config({"EMULATOR_OUTPUTS": str(outputs)})

    redrive = sqs.get_queue_attributes(QueueUrl=config["APPROVAL_QUEUE_URL"], AttributeNames=["RedrivePolicy"])
    target = json.loads(redrive["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    assert sqs.get_queue_url(QueueName=target.rsplit(":", 1)[-1])["QueueUrl"] == config["DEAD_LETTER_QUEUE_URL"]
