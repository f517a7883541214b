"""What the JSON API and the page both show, read the same way for both: the requests after catching
up with AWS, and executions' statuses, with AWS being unreachable turned into warnings."""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app

from controller.approval import executions, inbox
from controller.core.errors import AwsUnavailable
from controller.service import aws
from controller.storage.context import get_store
from controller.storage.interface import Store
from controller.storage.records import ApprovalRequest

RECENT_SHOWN = 10


def refresh_warnings() -> list[str]:
    """Catch the stored requests up with AWS; return the warnings a reader sees when it could not be reached."""
    clients = aws.clients_of(current_app)
    try:
        inbox.catch_up(get_store(), clients["sqs"], clients["stepfunctions"], current_app.config)
    except AwsUnavailable as error:
        return [f"Showing stored requests only; AWS could not be reached: {error.message}"]
    return []


def execution_status(store: Store, request: ApprovalRequest) -> dict[str, str | None]:
    """Return the request's execution status; status None and a warning when AWS could not be asked."""
    try:
        return asdict(executions.status_of(store, aws.stepfunctions(), request))
    except AwsUnavailable as error:
        return {"status": None, "error": None, "cause": None, "warning": error.message}


def recent_outcomes(store: Store) -> list[dict[str, object]]:
    """Return the latest ended requests as shown publicly, each with its execution's status."""
    return [
        {**request.public(), "execution": execution_status(store, request)}
        for request in store.recent_ended(RECENT_SHOWN)
    ]
