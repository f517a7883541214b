"""The emulator's SQS receive: a flat cost per message returned, with retention still honoured."""

from __future__ import annotations

import boto3
import pytest
from moto.sqs.models import sqs_backends

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.mark.usefixtures("fixed_moto")
def test_a_message_past_the_retention_period_is_not_returned_and_a_fresh_one_is():
    sqs = boto3.client("sqs", region_name=REGION)
    urls = {
        name: sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        for name in ("expired", "fresh")
    }
    for url in urls.values():
        sqs.send_message(QueueUrl=url, MessageBody="order")
    (old,) = sqs_backends[ACCOUNT][REGION].get_queue("expired")._messages
    old.sent_timestamp -= 61_000  # sent 61 s ago, past the 60 s retention

    assert "Messages" not in sqs.receive_message(QueueUrl=urls["expired"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=urls["fresh"])["Messages"]] == ["order"]


@pytest.mark.usefixtures("fixed_moto")
def test_a_receive_from_a_deep_queue_reads_no_queue_wide_attributes_per_message(monkeypatch):
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    for first in range(0, 300, 10):  # in batches of ten, SQS's most: one call each instead of ten
        entries = [{"Id": str(number), "MessageBody": str(number)} for number in range(first, first + 10)]
        assert not sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")
    queue_type = type(sqs_backends[ACCOUNT][REGION].get_queue("deep"))
    built = []
    counted = queue_type.attributes
    # undone here, before fixed_moto undoes the fixes, so moto gets its own property back
    with monkeypatch.context() as patched:
        patched.setattr(queue_type, "attributes", property(lambda queue: built.append(1) or counted.fget(queue)))
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]

    assert len(received) == 10
    assert built == []  # each build counts all 300 messages; moto built them twice per message returned
