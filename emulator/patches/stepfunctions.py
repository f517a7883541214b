"""Step Functions: where moto's answers differ from AWS's."""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.parser.api import InvalidDefinition
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from emulator.patches.replacing import Fix, Replacements

MAX_EXECUTION_INPUT_BYTES = 256 * 1024  # Step Functions' limit on an execution's input, as UTF-8


def _send_task_failure_with_cause(self: StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]  # the executing backend takes it
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _keep_the_cause(replacements: Replacements) -> None:
    replacements.attribute(StepFunctionResponse, "send_task_failure", _send_task_failure_with_cause)


def _refuse_oversized_input(replacements: Replacements) -> None:
    start_execution = StepFunctionResponse.start_execution

    def start_within_input_limit(self: StepFunctionResponse) -> object:
        if len(self._get_param("input", if_none="{}").encode("utf-8", "surrogatepass")) > MAX_EXECUTION_INPUT_BYTES:
            raise JsonRESTError(
                "ValidationException",
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_BYTES}",
            )
        return start_execution(self)

    replacements.attribute(StepFunctionResponse, "start_execution", start_within_input_limit)


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


FIXES = (
    Fix(
        "send_task_failure_keeps_the_cause",
        moto="SendTaskFailure drops `cause`: the failed execution has none",
        aws="the execution fails with the error and cause given (the rejection reason travels in it)",
        upstream=True,
        install=_keep_the_cause,
    ),
    Fix(
        "start_execution_refuses_input_over_256_kib",
        moto="StartExecution starts an execution with any input",
        aws="ValidationException for input over 256 KiB, before the execution exists",
        upstream=True,
        install=_refuse_oversized_input,
    ),
    Fix(
        "validate_and_list_versions_for_terraform",
        moto="ValidateStateMachineDefinition and ListStateMachineVersions are not implemented, which "
        "Terraform's aws provider retries for minutes",
        aws="the definition's verdict with diagnostics; the published versions, newest first",
        upstream=True,
        install=_answer_terraform,
    ),
)
