"""The emulator answers what Terraform's aws provider asks of SQS, Step Functions and Lambda as AWS does."""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.emulator import Emulator
from harness.stacks import TEST_ROLE_ARN
from stack.definition import render_template
from stack.lambda_package import build_payload
from stack.paths import TEMPLATE_FILE


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def queue_arn(sqs: Any, queue_url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


def rendered_template(emulator: Emulator) -> str:
    return render_template(
        TEMPLATE_FILE.read_text(),
        {
            "order_function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:any",
            "approval_queue_url": f"{emulator.outputs['aws_endpoint_url']}/123456789012/any",
            "approval_timeout_seconds": 60,
            "partition": "aws",  # in case the template names the partition
        },
    )


def test_get_queue_attributes_returns_the_redrive_allow_policy_until_it_is_removed(emulator: Emulator) -> None:
    sqs = emulator.client("sqs")
    dead_letter_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn(sqs, dead_letter_url)]})

    sqs.set_queue_attributes(QueueUrl=dead_letter_url, Attributes={"RedriveAllowPolicy": policy})
    named = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["RedriveAllowPolicy"])
    every = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["All"])
    assert named["Attributes"] == {"RedriveAllowPolicy": policy}
    assert every["Attributes"]["RedriveAllowPolicy"] == policy

    sqs.set_queue_attributes(QueueUrl=dead_letter_url, Attributes={"RedriveAllowPolicy": ""})
    every = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["All"])
    assert "RedriveAllowPolicy" not in every["Attributes"]


def test_get_queue_attributes_returns_the_redrive_policy_as_compact_json_like_aws(emulator: Emulator) -> None:
    sqs = emulator.client("sqs")
    dead_letter_arn = queue_arn(sqs, sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"])
    policy = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": 5}, separators=(",", ":"))

    queue_url = sqs.create_queue(QueueName=unique("queue"), Attributes={"RedrivePolicy": policy})["QueueUrl"]

    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    assert answer["Attributes"]["RedrivePolicy"] == policy


def test_validate_state_machine_definition_accepts_the_workflow_template(emulator: Emulator) -> None:
    answer = emulator.client("stepfunctions").validate_state_machine_definition(
        definition=rendered_template(emulator), type="STANDARD"
    )
    assert (answer["result"], answer["diagnostics"]) == ("OK", [])


def test_validate_state_machine_definition_reports_a_broken_definition(emulator: Emulator) -> None:
    broken = json.dumps({"StartAt": "Nowhere", "States": {"Somewhere": {"Type": "Sleep"}}})

    answer = emulator.client("stepfunctions").validate_state_machine_definition(definition=broken)

    assert answer["result"] == "FAIL"
    (diagnostic,) = answer["diagnostics"]
    assert diagnostic["severity"] == "ERROR"
    assert diagnostic["message"]


def test_list_state_machine_versions_lists_published_versions_newest_first(emulator: Emulator) -> None:
    sfn = emulator.client("stepfunctions")
    definition = rendered_template(emulator)
    unpublished = sfn.create_state_machine(name=unique("sm"), definition=definition, roleArn=TEST_ROLE_ARN)
    published = sfn.create_state_machine(name=unique("sm"), definition=definition, roleArn=TEST_ROLE_ARN, publish=True)
    second = sfn.update_state_machine(stateMachineArn=published["stateMachineArn"], definition=definition, publish=True)

    listed = sfn.list_state_machine_versions(stateMachineArn=published["stateMachineArn"])["stateMachineVersions"]
    empty = sfn.list_state_machine_versions(stateMachineArn=unpublished["stateMachineArn"])["stateMachineVersions"]

    assert [version["stateMachineVersionArn"] for version in listed] == [
        second["stateMachineVersionArn"],
        published["stateMachineVersionArn"],
    ]
    assert empty == []


def test_lambda_returns_the_logging_config_it_was_given_and_its_defaults_otherwise(emulator: Emulator) -> None:
    lambda_client = emulator.client("lambda")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    role = emulator.client("iam").create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(trust))
    code = {"ZipFile": build_payload().read_bytes()}
    function = {"Runtime": "python3.12", "Role": role["Role"]["Arn"], "Handler": "function.handler", "Code": code}
    given = {"LogFormat": "JSON", "LogGroup": "/custom/orders"}
    configured = lambda_client.create_function(FunctionName=unique("configured"), LoggingConfig=given, **function)
    plain = lambda_client.create_function(FunctionName=unique("plain"), **function)

    read = lambda_client.get_function_configuration(FunctionName=configured["FunctionName"])
    default = lambda_client.get_function(FunctionName=plain["FunctionName"])["Configuration"]
    assert read["LoggingConfig"] == given
    assert default["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{plain['FunctionName']}"}

    lambda_client.update_function_configuration(
        FunctionName=configured["FunctionName"], LoggingConfig={"LogFormat": "Text", "LogGroup": "/custom/other"}
    )
    read = lambda_client.get_function_configuration(FunctionName=configured["FunctionName"])
    assert read["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/custom/other"}


def test_aws_managed_policies_exist_to_be_attached(emulator: Emulator) -> None:
    iam = emulator.client("iam")
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    role = iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    arn = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"

    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)

    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [arn]
