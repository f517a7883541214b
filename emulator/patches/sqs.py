"""SQS: where moto's answers, or its cost per message, differ from AWS's."""

from __future__ import annotations

import json
import time
from typing import Any

from moto.sqs.models import Message, Queue, SQSBackend

from emulator.patches.replacing import Fix, Replacements


def _visible(self: Message) -> bool:
    return time.time() * 1000 > self.visible_at


def _delayed(self: Message) -> bool:
    return time.time() * 1000 < self.delayed_until


def _read_the_clock_once(replacements: Replacements) -> None:
    # The same clock as moto's datetime arithmetic, read through time.time().
    replacements.attribute(Message, "visible", property(_visible))
    replacements.attribute(Message, "delayed", property(_delayed))


def _within_retention(self: SQSBackend, queue_name: str, message: Message) -> bool:
    retention_seconds = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_seconds + (message.sent_timestamp or 0) / 1000 > time.time())


def _read_only_the_retention_period(replacements: Replacements) -> None:
    replacements.attribute(SQSBackend, "is_message_valid_based_on_retention_period", _within_retention)


def _return_redrive_policies_as_aws_does(replacements: Replacements) -> None:
    moto_attributes = vars(Queue)["attributes"].fget

    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = moto_attributes(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        if not result.get("RedriveAllowPolicy"):
            # Setting it to "" removes it; AWS then leaves it out, which Terraform waits for on destroy.
            result.pop("RedriveAllowPolicy", None)
        return result

    # Listed among the queue's attributes, what SetQueueAttributes stored is returned (unset: None, left out).
    replacements.attribute(Queue, "redrive_allow_policy", None)
    replacements.attribute(Queue, "BASE_ATTRIBUTES", [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"])
    replacements.attribute(Queue, "attributes", property(attributes))


FIXES = (
    Fix(
        "receive_reads_the_clock_cheaply",
        moto="ReceiveMessage reads the time through datetime arithmetic several times per queued message, "
        "so a receive slows as the queue grows",
        aws="no cost per queued message",
        canary="tests/test_moto_canaries.py",
        install=_read_the_clock_once,
    ),
    Fix(
        "receive_reads_only_the_retention_period",
        moto="ReceiveMessage builds every attribute of the queue (message counts included) to read the "
        "retention period, for each message returned",
        aws="no cost per queued message; retention still honoured",
        canary="tests/test_moto_canaries.py",
        install=_read_only_the_retention_period,
    ),
    Fix(
        "queue_attributes_include_redrive_policies_as_aws_returns_them",
        moto="GetQueueAttributes never returns a RedriveAllowPolicy that was set (Terraform waits for it "
        "forever), and returns RedrivePolicy as spaced JSON (which Terraform reads as a change)",
        aws="RedriveAllowPolicy returned once set and left out once removed; RedrivePolicy as compact JSON",
        canary="tests/test_moto_canaries.py",
        install=_return_redrive_policies_as_aws_does,
    ),
)
