"""Reads an execution's status and brings a stored request in line with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from controller.core import states
from controller.core.errors import AwsUnavailable
from controller.storage.interface import TIMEOUT_PASSED, Store
from controller.storage.records import ApprovalRequest, ExecutionStatus

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

REJECTION_ERROR = "Rejected"  # the state machine's Catch routes this error to its Rejected state
TIMEOUT_ERROR = "ApprovalTimedOut"
GONE = ExecutionStatus("DOES_NOT_EXIST")


def describe(sfn: SFNClient, execution_arn: str) -> ExecutionStatus | None:
    """Return what DescribeExecution says, None when the execution does not exist; AwsUnavailable otherwise."""
    try:
        description = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return None  # nothing can be asked about it again, so the request is closed
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    except BotoCoreError as error:
        raise AwsUnavailable(f"AWS could not be reached: {error}") from error
    return ExecutionStatus(description["status"], description.get("error"), description.get("cause"))


def status_of(store: Store, sfn: SFNClient, request: ApprovalRequest) -> ExecutionStatus:
    """Return a request's execution status: kept once it has ended, else asked for.

    DOES_NOT_EXIST when the execution is gone; AwsUnavailable when AWS could not be asked.
    """
    if request.final_execution:
        return request.final_execution
    status = describe(sfn, request.execution_arn) or GONE
    if status.status != "RUNNING":
        store.keep_final_execution(request.id, status)
    return status


def outcome_of(request: ApprovalRequest, execution: ExecutionStatus | None) -> tuple[str, str | None]:
    """Return (state, reason) a request ends in, given its execution that is no longer running."""
    if execution is None:
        return states.CLOSED, "The execution no longer exists."
    status, error = execution.status, execution.error
    if status == "FAILED" and error == TIMEOUT_ERROR:
        return states.EXPIRED, TIMEOUT_PASSED
    if status == "SUCCEEDED" or (status == "FAILED" and error == REJECTION_ERROR):
        taken = states.APPROVED if status == "SUCCEEDED" else states.REJECTED
        if request.decision and taken == states.DECIDED_BY[request.decision.action]:
            return taken, None
        return states.CLOSED, f"The execution was {taken} outside this controller."
    return states.CLOSED, f"The execution is {status} ({error or 'no error'}) without a decision from this controller."


def settle_pending(store: Store, sfn: SFNClient, request: ApprovalRequest) -> None:
    """Close a pending request whose execution stopped waiting (gone, aborted); else note the check."""
    execution = describe(sfn, request.execution_arn)
    if execution is not None and execution.status == "RUNNING":
        store.touch(request.id)
    else:
        store.finish(request.id, *outcome_of(request, execution), from_state=states.PENDING)
