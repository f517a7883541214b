"""Corrections to moto where it differs from AWS in ways this workflow, or Terraform deploying it, depends on."""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Message, Queue, SQSBackend
from moto.stepfunctions.parser.api import InvalidDefinition
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
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


def _validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    # Terraform's aws provider asks this at plan time and retries moto's "not implemented" for
    # minutes. Answer with the verdict of the parser that runs the definition.
    try:
        StepFunctionsParserBackend._validate_definition(self._get_param("definition"))
    except InvalidDefinition as error:
        diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": error.message}
        return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
    return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    # Terraform reads a state machine's published versions on every refresh; newest first, as AWS lists them.
    state_machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = [
        {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
        for _, version in sorted(state_machine.versions.items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


def _queue_attributes_as_aws_returns_them() -> property:
    moto_attributes = vars(Queue)["attributes"].fget

    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = moto_attributes(self)
        if self.redrive_policy:
            # AWS answers with compact JSON; moto's spaced json.dumps reads as a change to Terraform.
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        if not result.get("RedriveAllowPolicy"):
            # Setting it to "" removes it; AWS then leaves it out, which Terraform waits for on destroy.
            result.pop("RedriveAllowPolicy", None)
        return result

    return property(attributes)


_LOGGING_CONFIG = "logging_config"  # an attribute moto's LambdaFunction lacks


def _keeping_lambda_logging_config() -> None:
    """Store CreateFunction's and UpdateFunctionConfiguration's LoggingConfig and return it, as Lambda does."""
    create, describe = LambdaFunction.__init__, LambdaFunction.get_configuration
    update = LambdaFunction.update_configuration

    def init(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        create(self, account_id, spec, *args, **kwargs)
        setattr(self, _LOGGING_CONFIG, spec.get("LoggingConfig") or {})

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Lambda's defaults for what was not given: plain-text logs in /aws/lambda/<name>.
        defaults = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}"}
        given = getattr(self, _LOGGING_CONFIG, {})
        return {**describe(self, *args, **kwargs), "LoggingConfig": {**defaults, **given}}

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            setattr(self, _LOGGING_CONFIG, config_updates["LoggingConfig"] or {})
        return update(self, config_updates)

    LambdaFunction.__init__ = init
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration


def _answering_terraform() -> None:
    """Answer what Terraform's aws provider asks of SQS, Step Functions and Lambda as AWS does."""
    # moto dispatches each action to the response method of its snake_case name; these two it lacks.
    StepFunctionResponse.validate_state_machine_definition = _validate_state_machine_definition  # type: ignore[attr-defined]
    StepFunctionResponse.list_state_machine_versions = _list_state_machine_versions  # type: ignore[attr-defined]
    # moto stores SetQueueAttributes' RedriveAllowPolicy but never returns it, so Terraform waits for it
    # forever; listed among the queue's attributes, it is returned once set (unset: None, left out).
    Queue.redrive_allow_policy = None  # type: ignore[attr-defined]
    Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]
    Queue.attributes = _queue_attributes_as_aws_returns_them()
    _keeping_lambda_logging_config()
    # A stack may attach AWS managed policies (API Gateway's logging role does); moto knows them only when
    # asked to load them, and answers NoSuchEntity otherwise.
    default_user_config["iam"] = {"load_aws_managed_policies": True}


DYNAMODB_LOCK = threading.Lock()  # held for each DynamoDB call the emulator serves


def _one_dynamodb_call_at_a_time() -> None:
    """Serve DynamoDB calls one at a time, so that each is isolated from the others as in DynamoDB."""
    serve = DynamoHandler.call_action
    if getattr(serve, "serialised", False):
        return

    @functools.wraps(serve)
    def call_action(self: DynamoHandler) -> Any:
        # moto's TransactWriteItems deep-copies each table it touches and, when cancelled, puts the copy back:
        # a write another thread made meanwhile is lost although it was acknowledged. moto has no lock of its
        # own, and DynamoDB never loses an acknowledged write.
        with DYNAMODB_LOCK:
            return serve(self)

    call_action.serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action


def apply() -> None:
    """Run state machines for real, keep SendTaskFailure's cause, receive from SQS at a flat cost, isolate
    DynamoDB calls from each other, and answer what Terraform's aws provider asks as AWS does."""
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
    _one_dynamodb_call_at_a_time()
    _answering_terraform()
