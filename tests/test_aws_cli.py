"""An independent client drives the emulator as an AWS endpoint: the AWS CLI, no project code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.orders import ORDER
from harness.waiting import wait_for


def aws(emulator, *arguments: str) -> dict:
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": emulator.outputs["aws_region"],
    }
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("aws")),
            "--endpoint-url",
            emulator.outputs["aws_endpoint_url"],
            "--output",
            "json",
            *arguments,
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
        timeout=60,
    )
    return json.loads(completed.stdout) if completed.stdout.strip() else {}


def test_the_aws_cli_takes_an_execution_through_approval(stack):
    emulator = stack.emulator
    started = aws(
        emulator,
        "stepfunctions",
        "start-execution",
        "--state-machine-arn",
        stack.state_machine_arn,
        "--name",
        "cli-approval",
        "--input",
        json.dumps(ORDER),
    )

    received = wait_for(
        lambda: aws(emulator, "sqs", "receive-message", "--queue-url", stack.queue_url, "--wait-time-seconds", "1").get(
            "Messages"
        ),
        20,
        "the approval request on the queue",
    )
    body = json.loads(received[0]["Body"])
    aws(
        emulator,
        "stepfunctions",
        "send-task-success",
        "--task-token",
        body["TaskToken"],
        "--task-output",
        '{"status": "APPROVED"}',
    )

    assert body["ExecutionName"] == "cli-approval"
    finished = wait_for(
        lambda: (
            (d := aws(emulator, "stepfunctions", "describe-execution", "--execution-arn", started["executionArn"]))[
                "status"
            ]
            != "RUNNING"
            and d
        ),
        20,
        "the execution to finish",
    )
    assert finished["status"] == "SUCCEEDED"
