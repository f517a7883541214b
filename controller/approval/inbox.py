"""Brings the store in line with AWS: moves approval requests from SQS into it (store first,
delete after), closes requests whose execution stopped waiting, finishes stale claims."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from controller.approval import decisions, executions, policy
from controller.core.errors import AwsUnavailable
from controller.storage.interface import Store
from controller.storage.records import NewRequest, now

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)
LIVENESS_CHECKS_PER_CALL = 10  # a few per refresh, so a refresh stays cheap however many are pending
# what DescribeExecution accepts; a request with anything else could never be looked at
EXECUTION_ARN = re.compile(r"arn:[a-z-]+:states:[a-z0-9-]+:[0-9]{12}:execution:[^:\s]+:[^:\s]+")
EVENTS_KEPT = 10_000  # state changes kept for /events; a page away longer reloads its lists
MAX_TASK_TOKEN_LENGTH = 1024  # SendTaskSuccess/SendTaskFailure take no longer token
# a dead letter we leave alone is hidden from other readers this long, so one look sees each message once
DEAD_LETTER_HOLD_SECONDS = 10


class InvalidMessage(ValueError):
    """A queue message that is not an approval request from the state machine."""


def _parse_time(timestamp: str) -> datetime:
    # Step Functions writes "...Z", which datetime.fromisoformat reads only from Python 3.11 on
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_message(body: str) -> NewRequest:
    """Return the request a Request Approval message brings; raise InvalidMessage if it is not one."""
    try:
        message = json.loads(body)
        requested_at = _parse_time(message["RequestedAt"])
        json.dumps(message["Order"])  # what cannot be written back (too deep) is no order either
        request = NewRequest(
            id=message["ExecutionName"],
            execution_arn=message["ExecutionArn"],
            task_token=message["TaskToken"],
            order=message["Order"],
            requested_at=_utc(requested_at),
            expires_at=_utc(requested_at + timedelta(seconds=int(message["TimeoutSeconds"]))),
        )
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as error:
        raise InvalidMessage(f"not an approval request: {type(error).__name__}") from None
    identifiers = (request.id, request.execution_arn, request.task_token)
    if not all(isinstance(value, str) and value for value in identifiers):
        raise InvalidMessage("not an approval request: empty or non-text identifiers")
    if not EXECUTION_ARN.fullmatch(request.execution_arn) or len(request.task_token) > MAX_TASK_TOKEN_LENGTH:
        raise InvalidMessage("not an approval request: no execution ARN, or a task token longer than AWS issues")
    if not isinstance(request.order, dict):
        raise InvalidMessage("not an approval request: the order is not an object")
    return request


def with_rule(request: NewRequest, rules: policy.Policy | None) -> NewRequest:
    """Return the request with the approval rule that applies to its order, fixed now; as it is without a policy."""
    if rules is None:
        return request
    applied = rules.apply(
        request.order, datetime.fromisoformat(request.requested_at), datetime.fromisoformat(request.expires_at)
    )
    return replace(
        request,
        rule=json.loads(applied.to_json()),
        remind_at=_stamp(applied.remind_at),
        escalate_at=_stamp(applied.escalate_at),
    )


def _stamp(moment: datetime | None) -> str | None:
    """Return a moment as the store writes its own times (UTC, milliseconds), so that it compares with them."""
    return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _store_and_delete(
    store: Store,
    sqs: SQSClient,
    queue_url: str,
    messages: list[MessageTypeDef],
    notify: bool,
    set_aside: bool,
    rules: policy.Policy | None = None,
) -> None:
    """Store the approval requests among messages, then delete from SQS those stored, even if a later one failed.

    With set_aside, a message that is no approval request is recorded; either way it stays on its queue.
    """
    handled: list[DeleteMessageBatchRequestEntryTypeDef] = []
    try:
        for message in messages:
            try:
                store.save_request(with_rule(parse_message(message["Body"]), rules), notify)
            except InvalidMessage as error:
                if set_aside:  # after maxReceiveCount receives, the redrive policy moves it to the DLQ
                    receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                    store.set_aside(message["MessageId"], str(error), receives)
                    log.warning("message %s set aside: %s", message["MessageId"], error)
                continue
            handled.append({"Id": str(len(handled)), "ReceiptHandle": message["ReceiptHandle"]})
    finally:
        if handled:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=handled)


def _take_batch(
    store: Store,
    sqs: SQSClient,
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
    _store_and_delete(store, sqs, queue_url, messages, notify, set_aside=True, rules=rules)
    return len(messages)


def pull(
    store: Store,
    sqs: SQSClient,
    queue_url: str,
    wait_seconds: int,
    max_batches: int,
    batch_size: int = 10,
    notify: bool = False,
    rules: policy.Policy | None = None,
) -> None:
    """Drain up to max_batches full batches; only the first receive waits, so an empty queue never hangs.

    With notify, each newly stored request gets a webhook notification queued with it. Nothing is
    received while the store cannot be written (StoreUnavailable): each receive of a message it
    could not store would count towards the queue's maxReceiveCount, and so towards the DLQ.
    """
    store.check_writable()
    try:
        for batch in range(max_batches):
            taken = _take_batch(store, sqs, queue_url, wait_seconds if batch == 0 else 0, batch_size, notify, rules)
            if taken < batch_size:
                return
    except (ClientError, BotoCoreError) as error:
        raise AwsUnavailable(f"Could not read the approval queue: {error}") from error


@dataclass
class DeadLetters:
    """What the last look at the dead-letter queue found; one per app, shared by its threads."""

    count: int | None = None  # messages left there: none of them is an approval request
    checked_at: str | None = None
    next_check: float = 0.0  # time.monotonic() of the next look

    def shown(self) -> dict[str, int | str | None]:
        """Return what /pending shows of it."""
        return {"count": self.count, "checked_at": self.checked_at}


def recover_dead_letters(
    store: Store,
    sqs: SQSClient,
    queue_url: str,
    max_batches: int,
    batch_size: int,
    notify: bool,
    rules: policy.Policy | None = None,
) -> int:
    """Store every approval request on the dead-letter queue and delete it there; leave anything else.

    Whatever put a request there (a store that failed before this check existed, a bug, an operator),
    it is stored like any other. Returns how many messages the dead-letter queue holds afterwards.
    """
    store.check_writable()
    try:
        for _ in range(max_batches):
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=batch_size,
                VisibilityTimeout=DEAD_LETTER_HOLD_SECONDS,
            ).get("Messages", [])
            _store_and_delete(store, sqs, queue_url, messages, notify, set_aside=False, rules=rules)
            if len(messages) < batch_size:
                break
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    except (ClientError, BotoCoreError) as error:
        raise AwsUnavailable(f"Could not read the dead-letter queue: {error}") from error
    return sum(int(value) for value in attributes.values())


def check_dead_letters(store: Store, sqs: SQSClient, config: Mapping[str, Any], seen: DeadLetters) -> None:
    """Look at the configured dead-letter queue when a look is due (every DEAD_LETTER_CHECK_SECONDS)."""
    if not config.get("DEAD_LETTER_QUEUE_URL") or time.monotonic() < seen.next_check:
        return
    seen.next_check = time.monotonic() + config["DEAD_LETTER_CHECK_SECONDS"]
    seen.count = recover_dead_letters(
        store,
        sqs,
        config["DEAD_LETTER_QUEUE_URL"],
        config["PULL_MAX_BATCHES"],
        config["PULL_BATCH_SIZE"],
        notify=bool(config["NOTIFY_WEBHOOK_URL"]),
        rules=config.get("POLICY"),
    )
    seen.checked_at = now()


def check_liveness(store: Store, sfn: SFNClient, older_than_seconds: float) -> None:
    """Close pending requests whose execution stopped waiting, a few per call, oldest look first."""
    for request in store.stale(older_than_seconds, LIVENESS_CHECKS_PER_CALL):
        executions.settle_pending(store, sfn, request)


def pull_configured(store: Store, sqs: SQSClient, config: Mapping[str, Any], wait_seconds: int = 0) -> None:
    """Pull the configured queue with the configured batches; by default take only what has arrived."""
    pull(
        store,
        sqs,
        config["APPROVAL_QUEUE_URL"],
        wait_seconds,
        config["PULL_MAX_BATCHES"],
        config["PULL_BATCH_SIZE"],
        notify=bool(config["NOTIFY_WEBHOOK_URL"]),
        rules=config.get("POLICY"),
    )


def catch_up(
    store: Store, sqs: SQSClient, sfn: SFNClient, config: Mapping[str, Any], dead_letters: DeadLetters
) -> None:
    """Take what has arrived; without a background worker, also do its upkeep here, as requests come.

    Raises AwsUnavailable when AWS could not be reached, StoreUnavailable when the store could not
    be written; what is stored stays right either way.
    """
    try:
        pull_configured(store, sqs, config)
        if not config["BACKGROUND"]:
            check_dead_letters(store, sqs, config, dead_letters)
            check_liveness(store, sfn, config["LIVENESS_CHECK_SECONDS"])
            decisions.resume_claims(store, sfn, config["CLAIM_STALE_SECONDS"])
            store.forget_events(EVENTS_KEPT)
    finally:
        store.expire_overdue()
