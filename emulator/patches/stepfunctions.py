"""Step Functions: where moto's answers differ from AWS's.

AWS's answers, from the Step Functions API reference: SendTaskSuccess, SendTaskFailure
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html,
API_SendTaskFailure.html: TaskTimedOut when "the task token has either expired or the task
associated with the token has already been closed"; InvalidOutput; taskToken of length 1 to 2048),
StartExecution (API_StartExecution.html: the name's forbidden characters, InvalidName,
InvalidExecutionInput, input of at most 256 KiB) and DescribeExecution (API_DescribeExecution.html:
inputDetails, "always true for API calls").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.parser.api import ExecutionStatus, InvalidDefinition
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcome,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from emulator.patches.replacing import Fix, Replacements

MAX_EXECUTION_INPUT_BYTES = 256 * 1024  # Step Functions' limit on an execution's input, as UTF-8


def _checked_first(replacements: Replacements, action: str, check: Callable[[StepFunctionResponse], None]) -> None:
    """Run check on the request before the handler of the action that is in place."""
    handle = getattr(StepFunctionResponse, action)

    def checked(self: StepFunctionResponse) -> object:
        check(self)
        return handle(self)

    replacements.attribute(StepFunctionResponse, action, checked)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _send_task_failure_with_cause(self: StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]  # the executing backend takes it
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _keep_the_cause(replacements: Replacements) -> None:
    replacements.attribute(StepFunctionResponse, "send_task_failure", _send_task_failure_with_cause)


def _refuse_oversized_input(replacements: Replacements) -> None:
    def check(self: StepFunctionResponse) -> None:
        if len(self._get_param("input", if_none="{}").encode("utf-8", "surrogatepass")) > MAX_EXECUTION_INPUT_BYTES:
            raise JsonRESTError(
                "ValidationException",
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_BYTES}",
            )

    _checked_first(replacements, "start_execution", check)


def _refuse_input_that_is_not_json(replacements: Replacements) -> None:
    def check(self: StepFunctionResponse) -> None:
        # moto refuses it too, but with an exception that carries no error code
        execution_input = self._get_param("input", if_none="{}")
        if not _is_json(execution_input):
            raise JsonRESTError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{execution_input}'")

    _checked_first(replacements, "start_execution", check)


def _refuse_invalid_names(replacements: Replacements) -> None:
    def check(self: StepFunctionResponse) -> None:
        name = self._get_param("name")
        if name is not None:
            # moto holds AWS's rule for state machine names and applies it to executions' only in its
            # non-executing backend
            self.stepfunction_backend._validate_name(name)

    _checked_first(replacements, "start_execution", check)


def _refuse_output_that_is_not_json(replacements: Replacements) -> None:
    def check(self: StepFunctionResponse) -> None:
        if not _is_json(self._get_param("output") or ""):
            raise JsonRESTError("InvalidOutput", "Invalid Output: the task's output is not JSON.")

    _checked_first(replacements, "send_task_success", check)


def _refuse_empty_tokens(replacements: Replacements) -> None:
    def check(self: StepFunctionResponse) -> None:
        if self._get_param("taskToken") == "":
            raise JsonRESTError(
                "ValidationException",
                "1 validation error detected: Value '' at 'taskToken' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1",
            )

    for action in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        _checked_first(replacements, action, check)


_ANSWERING = threading.Lock()  # a token is checked and answered as one step: two answers never both succeed


def _open_task(backend: StepFunctionsParserBackend, task_token: str) -> CallbackEndpoint:
    """The waiting task a token belongs to, or the error AWS gives for a token that cannot be answered."""
    for execution in backend._get_executions():
        worker = execution.exec_worker
        endpoint: CallbackEndpoint | None = worker.env.callback_pool_manager.get(task_token) if worker else None
        if endpoint is None:
            continue
        if execution.status != ExecutionStatus.RUNNING or endpoint.get_outcome() is not None:
            raise JsonRESTError("TaskTimedOut", "Task Timed Out: the task of this token is closed.")
        return endpoint
    raise JsonRESTError("InvalidToken", "Invalid Token: 'Invalid token'")


def _answer(backend: StepFunctionsParserBackend, task_token: str, outcome: CallbackOutcome) -> None:
    with _ANSWERING:
        _open_task(backend, task_token).notify(outcome)


def _answer_each_token_once(replacements: Replacements) -> None:
    def send_task_success(self: StepFunctionsParserBackend, task_token: str, outcome: str) -> None:
        _answer(self, task_token, CallbackOutcomeSuccess(callback_id=task_token, output=outcome))

    def send_task_failure(
        self: StepFunctionsParserBackend, task_token: str, error: Any = None, cause: Any = None
    ) -> None:
        _answer(self, task_token, CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))

    replacements.attribute(StepFunctionsParserBackend, "send_task_success", send_task_success)
    replacements.attribute(StepFunctionsParserBackend, "send_task_failure", send_task_failure)


def _describe_input_details(replacements: Replacements) -> None:
    describe = StepFunctionResponse.describe_execution

    def describe_execution(self: StepFunctionResponse) -> ActionResult:
        answer = describe(self)
        return ActionResult({**answer.result, "inputDetails": {"included": True}})  # type: ignore[dict-item]

    replacements.attribute(StepFunctionResponse, "describe_execution", describe_execution)


def _validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    # Answer with the verdict of the parser that runs the definition.
    try:
        StepFunctionsParserBackend._validate_definition(self._get_param("definition"))
    except InvalidDefinition as error:
        diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": error.message}
        return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
    return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    state_machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = [
        {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
        for _, version in sorted(state_machine.versions.items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


def _answer_terraform(replacements: Replacements) -> None:
    # moto dispatches each action to the response method of its snake_case name; these two it lacks.
    replacements.attribute(
        StepFunctionResponse, "validate_state_machine_definition", _validate_state_machine_definition
    )
    replacements.attribute(StepFunctionResponse, "list_state_machine_versions", _list_state_machine_versions)


CANARIES = "tests/test_moto_canaries.py"

FIXES = (
    Fix(
        "send_task_failure_keeps_the_cause",
        moto="SendTaskFailure drops `cause`: the failed execution has none",
        aws="the execution fails with the error and cause given (the rejection reason travels in it)",
        canary=CANARIES,
        install=_keep_the_cause,
    ),
    Fix(
        "a_token_is_answered_once",
        moto="SendTaskFailure with a token already answered, or whose task timed out, answers 200 and does "
        "nothing; SendTaskSuccess with one answers InvalidToken",
        aws="TaskTimedOut: the task of that token is closed",
        canary=CANARIES,
        install=_answer_each_token_once,
    ),
    Fix(
        "send_task_success_refuses_output_that_is_not_json",
        moto="SendTaskSuccess takes any output; the execution then fails",
        aws="InvalidOutput, and the task still waits",
        canary=CANARIES,
        install=_refuse_output_that_is_not_json,
    ),
    Fix(
        "an_empty_token_is_a_validation_error",
        moto="an empty task token answers InvalidToken",
        aws="ValidationException: a token has at least 1 character",
        canary=CANARIES,
        install=_refuse_empty_tokens,
    ),
    Fix(
        "start_execution_refuses_input_over_256_kib",
        moto="StartExecution starts an execution with any input",
        aws="ValidationException for input over 256 KiB, before the execution exists",
        canary=CANARIES,
        install=_refuse_oversized_input,
    ),
    Fix(
        "start_execution_refuses_input_that_is_not_json",
        moto="StartExecution refuses it with an error whose code is empty",
        aws="InvalidExecutionInput",
        canary=CANARIES,
        install=_refuse_input_that_is_not_json,
    ),
    Fix(
        "start_execution_refuses_invalid_names",
        moto="StartExecution takes any name, spaces and brackets included",
        aws="InvalidName for white space, brackets, wildcards, special and control characters",
        canary=CANARIES,
        install=_refuse_invalid_names,
    ),
    Fix(
        "describe_execution_has_input_details",
        moto="DescribeExecution has no inputDetails",
        aws='inputDetails {"included": true}, always',
        canary=CANARIES,
        install=_describe_input_details,
    ),
    Fix(
        "validate_and_list_versions_for_terraform",
        moto="ValidateStateMachineDefinition and ListStateMachineVersions are not implemented, which "
        "Terraform's aws provider retries for minutes",
        aws="the definition's verdict with diagnostics; the published versions, newest first",
        canary=CANARIES,
        install=_answer_terraform,
    ),
)
