"""Corrections to moto where it differs from AWS in ways this workflow depends on."""

from __future__ import annotations

import time

from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.core.responses import EmptyResult
from moto.sqs.models import Message, SQSBackend
from moto.stepfunctions.responses import StepFunctionResponse


def _send_task_failure_with_cause(self: StepFunctionResponse) -> EmptyResult:
    # moto's handler drops `cause`; AWS records it, and the rejection reason travels in it.
    self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]  # the executing backend takes it
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


MAX_EXECUTION_INPUT_BYTES = 256 * 1024  # Step Functions' limit on an execution's input, as UTF-8
_moto_start_execution = StepFunctionResponse.start_execution


def _start_execution_within_input_limit(self: StepFunctionResponse) -> object:
    # moto starts any input; AWS refuses one over 256 KiB before the execution exists.
    if len(self._get_param("input", if_none="{}").encode("utf-8", "surrogatepass")) > MAX_EXECUTION_INPUT_BYTES:
        raise JsonRESTError(
            "ValidationException",
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_BYTES}",
        )
    return _moto_start_execution(self)


def _visible(self: Message) -> bool:
    return time.time() * 1000 > self.visible_at


def _delayed(self: Message) -> bool:
    return time.time() * 1000 < self.delayed_until


def _within_retention(self: SQSBackend, queue_name: str, message: Message) -> bool:
    # moto builds every attribute of the queue, message counts included, to read this one value
    retention_seconds = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_seconds + (message.sent_timestamp or 0) / 1000 > time.time())


def apply() -> None:
    """Run state machines for real, keep SendTaskFailure's cause, cap execution input, receive from SQS at flat cost."""
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    StepFunctionResponse.send_task_failure = _send_task_failure_with_cause
    StepFunctionResponse.start_execution = _start_execution_within_input_limit
    # moto reads "now" through datetime arithmetic for every queued message, several times per
    # message returned, so ReceiveMessage slows as the queue grows; SQS has no such cost per
    # queued message. The same clock read through time.time() keeps the emulator's cost flat.
    Message.visible = property(_visible)
    Message.delayed = property(_delayed)
    # ...and it looks up the retention period for each message returned through all the queue's
    # attributes, which counts the queue's messages: a receive then costs more the deeper the queue.
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention
