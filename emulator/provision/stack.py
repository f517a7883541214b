"""Creates, in the emulator, the stack terraform/ describes, from the same stack.json and template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from boto3.session import Session

from emulator.provision.api import ApiDeployment, provision_api
from emulator.provision.table import provision_approvals_table
from stack.definition import load_stack, render_template, resource_name
from stack.lambda_package import build_payload
from stack.paths import TEMPLATE_FILE

PARTITION = "aws"  # the emulator stands for the commercial partition, as its ARNs say


@dataclass(frozen=True)
class Deployment:
    """What was created, named like terraform/'s outputs."""

    approval_queue_url: str
    dead_letter_queue_url: str
    order_function_arn: str
    state_machine_arn: str
    api: ApiDeployment
    approvals_table_name: str


def _role(iam: Any, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return arn


def _queues(sqs: Any, stack: dict[str, Any], prefix: str) -> tuple[str, str]:
    settings = stack["approval_queue"]
    dlq_url = sqs.create_queue(
        QueueName=resource_name(stack, "dead_letter_queue", prefix),
        Attributes={
            "MessageRetentionPeriod": str(stack["dead_letter_queue"]["message_retention_seconds"]),
            "SqsManagedSseEnabled": "true",
        },
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=resource_name(stack, "approval_queue", prefix),
        Attributes={
            "VisibilityTimeout": str(settings["visibility_timeout_seconds"]),
            "MessageRetentionPeriod": str(settings["message_retention_seconds"]),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings["max_receive_count"]}
            ),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def create_state_machine(sfn: Any, name: str, role_arn: str, variables: dict[str, Any]) -> str:
    """Create a state machine from state_machine_definition.json.tpl and return its ARN."""
    definition = render_template(TEMPLATE_FILE.read_text(), variables)
    arn: str = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)["stateMachineArn"]
    return arn


def provision(
    session: Session, endpoint_url: str, approval_timeout_seconds: int | None = None, api_key: str | None = None
) -> Deployment:
    """Create queues, function, roles, state machine, REST API (with this API key, if given) and approvals table;
    return their identifiers."""
    stack = load_stack()
    prefix = stack["name_prefix"]

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    queue_url, dlq_url = _queues(client("sqs"), stack, prefix)
    function = stack["order_function"]
    function_arn = client("lambda").create_function(
        FunctionName=resource_name(stack, "order_function", prefix),
        Runtime=function["runtime"],
        Role=_role(client("iam"), f"{resource_name(stack, 'order_function', prefix)}-role", "lambda.amazonaws.com"),
        Handler=function["handler"],
        Code={"ZipFile": build_payload().read_bytes()},
        Timeout=function["timeout_seconds"],
        MemorySize=function["memory_mb"],
    )["FunctionArn"]
    state_machine_arn = create_state_machine(
        client("stepfunctions"),
        resource_name(stack, "state_machine", prefix),
        _role(client("iam"), f"{resource_name(stack, 'state_machine', prefix)}-role", "states.amazonaws.com"),
        {
            "order_function_arn": function_arn,
            "approval_queue_url": queue_url,
            "approval_timeout_seconds": approval_timeout_seconds or stack["approval_timeout_seconds"],
            "partition": PARTITION,
        },
    )
    api = provision_api(
        client("apigateway"),
        stack,
        prefix,
        state_machine_arn,
        _role(client("iam"), f"{resource_name(stack, 'api', prefix)}-start-execution", "apigateway.amazonaws.com"),
        api_key,
    )
    table_name = provision_approvals_table(client("dynamodb"), client("kms"), stack, prefix)
    return Deployment(queue_url, dlq_url, function_arn, state_machine_arn, api, table_name)
