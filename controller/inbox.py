"""Moves approval requests from SQS into the database: store first, delete after."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller import store
from controller.errors import AwsUnavailable

log = logging.getLogger(__name__)


def _take_batch(db: sqlite3.Connection, sqs: Any, queue_url: str, wait_seconds: int, batch_size: int) -> int:
    """Store one batch of messages, delete the stored ones from SQS, return how many were received."""
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    handled = []
    for message in messages:
        try:
            store.save(db, store.parse_message(message["Body"]))
        except store.InvalidMessage as error:
            # left on the queue: after maxReceiveCount receives, the redrive policy moves it to the DLQ
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            store.set_aside(db, message["MessageId"], str(error), receives)
            log.warning("message %s set aside: %s", message["MessageId"], error)
            continue
        handled.append({"Id": str(len(handled)), "ReceiptHandle": message["ReceiptHandle"]})
    if handled:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=handled)
    return len(messages)


def pull(
    db: sqlite3.Connection, sqs: Any, queue_url: str, wait_seconds: int, max_batches: int, batch_size: int = 10
) -> None:
    """Drain up to max_batches full batches; only the first receive waits, so an empty queue never hangs."""
    try:
        for batch in range(max_batches):
            if _take_batch(db, sqs, queue_url, wait_seconds if batch == 0 else 0, batch_size) < batch_size:
                return
    except (ClientError, BotoCoreError) as error:
        raise AwsUnavailable(f"Could not read the approval queue: {error}") from error
