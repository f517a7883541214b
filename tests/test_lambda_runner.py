"""The emulator runs Lambda code from the deployed zip, in warm workers, and fails the Lambda way."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

HANDLERS = """
import os, time

class OutOfStock(Exception):
    pass

def pid(event, context):
    return {"pid": os.getpid(), "function": context.function_name}

def fail(event, context):
    raise OutOfStock("SKU BOOK-1 is out of stock")

def slow(event, context):
    time.sleep(5)
"""


def deploy(emulator, handler: str, timeout: int = 3) -> str:
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    role = emulator.client("iam").create_role(
        RoleName=f"runner-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust)
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("handlers.py", HANDLERS)
    return emulator.client("lambda").create_function(
        FunctionName=f"runner-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler=f"handlers.{handler}",
        Code={"ZipFile": archive.getvalue()},
        Timeout=timeout,
    )["FunctionName"]


def invoke(emulator, name: str) -> tuple[dict, str | None]:
    response = emulator.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_a_warm_worker_serves_the_next_invocation(emulator):
    name = deploy(emulator, "pid")

    first, error = invoke(emulator, name)
    second, _ = invoke(emulator, name)

    assert error is None
    assert first == second == {"pid": first["pid"], "function": name}


def test_a_handler_exception_comes_back_as_a_lambda_error(emulator):
    payload, error = invoke(emulator, deploy(emulator, "fail"))

    assert error is not None
    assert (payload["errorType"], payload["errorMessage"]) == ("OutOfStock", "SKU BOOK-1 is out of stock")
    assert not [frame for frame in payload["stackTrace"] if "lambda_runner" in frame]


@pytest.mark.parametrize(
    ("handler", "error_type"), [("slow", "Sandbox.Timedout"), ("missing", "Runtime.ImportModuleError")]
)
def test_timeouts_and_broken_handlers_are_reported_like_lambda(emulator, handler, error_type):
    payload, error = invoke(emulator, deploy(emulator, handler, timeout=1))

    assert error is not None
    assert payload["errorType"] == error_type
