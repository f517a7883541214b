"""Brings the database in line with AWS: moves approval requests from SQS into it (store first,
delete after), closes requests whose execution stopped waiting, finishes stale claims."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller.approval import decisions, executions, policy
from controller.core.errors import AwsUnavailable
from controller.storage import store

log = logging.getLogger(__name__)
LIVENESS_CHECKS_PER_CALL = 10  # a few per refresh, so a refresh stays cheap however many are pending
# what DescribeExecution accepts; a request with anything else could never be looked at
EXECUTION_ARN = re.compile(r"arn:[a-z-]+:states:[a-z0-9-]+:[0-9]{12}:execution:[^:\s]+:[^:\s]+")
EVENTS_KEPT = 10_000  # state changes kept for /events; a page away longer reloads its lists
MAX_TASK_TOKEN_LENGTH = 1024  # SendTaskSuccess/SendTaskFailure take no longer token


class InvalidMessage(ValueError):
    """A queue message that is not an approval request from the state machine."""


def _parse_time(timestamp: str) -> datetime:
    # Step Functions writes "...Z", which datetime.fromisoformat reads only from Python 3.11 on
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_message(body: str) -> dict[str, Any]:
    """Return the row for a Request Approval message; raise InvalidMessage if it is not one."""
    try:
        message = json.loads(body)
        requested_at = _parse_time(message["RequestedAt"])
        row = {
            "id": message["ExecutionName"],
            "execution_arn": message["ExecutionArn"],
            "task_token": message["TaskToken"],
            "order_json": json.dumps(message["Order"]),
            "requested_at": _utc(requested_at),
            "expires_at": _utc(requested_at + timedelta(seconds=int(message["TimeoutSeconds"]))),
        }
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as error:
        raise InvalidMessage(f"not an approval request: {type(error).__name__}") from None
    if not all(isinstance(row[key], str) and row[key] for key in ("id", "execution_arn", "task_token")):
        raise InvalidMessage("not an approval request: empty or non-text identifiers")
    if not EXECUTION_ARN.fullmatch(row["execution_arn"]) or len(row["task_token"]) > MAX_TASK_TOKEN_LENGTH:
        raise InvalidMessage("not an approval request: no execution ARN, or a task token longer than AWS issues")
    if not isinstance(message["Order"], dict):
        raise InvalidMessage("not an approval request: the order is not an object")
    return row


def with_rule(row: dict[str, Any], rules: policy.Policy | None) -> dict[str, Any]:
    """Return the row with the approval rule that applies to its order, fixed now; as it is without a policy."""
    if rules is None:
        return row
    applied = rules.apply(
        json.loads(row["order_json"]),
        datetime.fromisoformat(row["requested_at"]),
        datetime.fromisoformat(row["expires_at"]),
    )
    return {**row, "rule_json": applied.to_json()}


def _take_batch(
    db: sqlite3.Connection,
    sqs: Any,
    queue_url: str,
    wait_seconds: int,
    batch_size: int,
    notify: bool,
    rules: policy.Policy | None,
) -> int:
    """Store one batch of messages, delete the stored ones from SQS, return how many were received."""
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    handled: list[dict[str, str]] = []
    for message in messages:
        try:
            store.save(db, with_rule(parse_message(message["Body"]), rules), notify)
        except InvalidMessage as error:
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
    db: sqlite3.Connection,
    sqs: Any,
    queue_url: str,
    wait_seconds: int,
    max_batches: int,
    batch_size: int = 10,
    notify: bool = False,
    rules: policy.Policy | None = None,
) -> None:
    """Drain up to max_batches full batches; only the first receive waits, so an empty queue never hangs.

    With notify, each newly stored request gets a webhook notification queued with it.
    """
    try:
        for batch in range(max_batches):
            taken = _take_batch(db, sqs, queue_url, wait_seconds if batch == 0 else 0, batch_size, notify, rules)
            if taken < batch_size:
                return
    except (ClientError, BotoCoreError) as error:
        raise AwsUnavailable(f"Could not read the approval queue: {error}") from error


def check_liveness(db: sqlite3.Connection, sfn: Any, older_than_seconds: float) -> None:
    """Close pending requests whose execution stopped waiting, a few per call, oldest look first."""
    for row in store.stale(db, older_than_seconds, LIVENESS_CHECKS_PER_CALL):
        executions.settle_pending(db, sfn, row)


def pull_configured(db: sqlite3.Connection, sqs: Any, config: Mapping[str, Any], wait_seconds: int = 0) -> None:
    """Pull the configured queue with the configured batches; by default take only what has arrived."""
    pull(
        db,
        sqs,
        config["APPROVAL_QUEUE_URL"],
        wait_seconds,
        config["PULL_MAX_BATCHES"],
        config["PULL_BATCH_SIZE"],
        notify=bool(config["NOTIFY_WEBHOOK_URL"]),
        rules=config.get("POLICY"),
    )


def refresh(db: sqlite3.Connection, clients: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Take what has arrived; without a background worker, also do its upkeep here, as requests come.

    Raises AwsUnavailable when AWS could not be reached; what is stored stays right either way.
    """
    try:
        pull_configured(db, clients["sqs"], config)
        if not config["BACKGROUND"]:
            check_liveness(db, clients["stepfunctions"], config["LIVENESS_CHECK_SECONDS"])
            decisions.resume_claims(db, clients["stepfunctions"], config["CLAIM_STALE_SECONDS"])
            store.forget_events(db, EVENTS_KEPT)
    finally:
        store.expire_overdue(db)
