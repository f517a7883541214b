"""Corrections to moto where it differs from AWS in ways this workflow depends on."""
from __future__ import annotations

from moto.core.config import default_user_config
from moto.core.responses import EmptyResult
from moto.stepfunctions.responses import StepFunctionResponse


def _send_task_failure_with_cause(self: StepFunctionResponse) -> EmptyResult:
    # moto's handler drops `cause`; AWS records it, and the rejection reason travels in it.
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def apply() -> None:
    """Run state machines for real and keep SendTaskFailure's cause."""
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    StepFunctionResponse.send_task_failure = _send_task_failure_with_cause
