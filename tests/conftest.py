"""Fixtures: one emulator process for the session; per test, a fresh queue, state machine and controller."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from werkzeug.serving import make_server

from controller import create_app
from emulator.provision import create_state_machine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ORDER = {
    "order_id": "ORD-1001",
    "customer": {"id": "C-42", "name": "Ada Lovelace", "email": "ada@example.org"},
    "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 12.5}, {"sku": "PEN-7", "quantity": 1, "unit_price": 3}],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll check() until it returns something truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Emulator:
    outputs: dict[str, str]
    process: subprocess.Popen

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs["aws_endpoint_url"],
            region_name=self.outputs["aws_region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    outputs_file = tmp_path_factory.mktemp("emulator") / "outputs.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(free_port()), "--api-port", str(free_port()), "--outputs", str(outputs_file)],
        cwd=PROJECT_ROOT,
    )
    wait_for(lambda: outputs_file.exists() or process.poll() is not None, 60, "the emulator to write its outputs")
    assert process.poll() is None, "the emulator exited during start-up"
    yield Emulator({key: item["value"] for key, item in json.loads(outputs_file.read_text()).items()}, process)
    process.terminate()
    process.wait(timeout=10)


@dataclass
class Stack:
    """A queue and a state machine of their own, built from the shared template, for one test."""

    emulator: Emulator
    queue_url: str
    state_machine_arn: str

    def start(self, order: dict[str, Any] = ORDER) -> str:
        """Start an execution the way the API integration does; return its name."""
        arn = self.emulator.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(order)
        )["executionArn"]
        return arn.rsplit(":", 1)[-1]

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name

    def describe(self, name: str) -> dict[str, Any]:
        return self.emulator.client("stepfunctions").describe_execution(executionArn=self.execution_arn(name))

    def wait_until_finished(self, name: str, timeout: float = 15) -> dict[str, Any]:
        return wait_for(
            lambda: (d := self.describe(name))["status"] != "RUNNING" and d, timeout, f"execution {name} to finish"
        )

    def queue_depth(self) -> int:
        attributes = self.emulator.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


def make_stack(emulator: Emulator, approval_timeout_seconds: int = 3600, visibility_timeout_seconds: int = 60) -> Stack:
    name = f"test-{uuid.uuid4().hex[:12]}"
    queue_url = emulator.client("sqs").create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout_seconds)}
    )["QueueUrl"]
    arn = create_state_machine(
        emulator.client("stepfunctions"),
        name,
        "arn:aws:iam::123456789012:role/test-state-machine",
        {
            "order_function_arn": emulator.outputs["order_function_arn"],
            "approval_queue_url": queue_url,
            "approval_timeout_seconds": approval_timeout_seconds,
        },
    )
    return Stack(emulator, queue_url, arn)


@pytest.fixture
def stack(emulator: Emulator) -> Stack:
    return make_stack(emulator)


class Controller:
    """The controller app served over real HTTP on a free port, in a thread."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.app = create_app(config)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=30)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=30)

    def wait_for_pending(self, request_id: str, timeout: float = 15) -> dict[str, Any]:
        def listed() -> dict[str, Any] | None:
            return next((r for r in self.get("/pending").json()["pending"] if r["id"] == request_id), None)

        return wait_for(listed, timeout, f"request {request_id} in /pending")

    def stop(self) -> None:
        self.server.shutdown()


def controller_config(stack: Stack, database: Path, **overrides: Any) -> dict[str, Any]:
    """The config of a controller for this stack's queue, with its own SQLite file."""
    return {
        "CONFIG_SOURCE": "emulator",
        "APPROVAL_QUEUE_URL": stack.queue_url,
        "AWS_ENDPOINT_URL": stack.emulator.outputs["aws_endpoint_url"],
        "AWS_REGION": stack.emulator.outputs["aws_region"],
        "DATABASE": str(database),
        "PULL_WAIT_SECONDS": 0,
        **overrides,
    }


@pytest.fixture
def controller_factory(tmp_path: Path) -> Iterator[Callable[..., Controller]]:
    started: list[Controller] = []

    def start(stack: Stack, **overrides: Any) -> Controller:
        started.append(Controller(controller_config(stack, tmp_path / "approvals.sqlite3", **overrides)))
        return started[-1]

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def controller(stack: Stack, controller_factory: Callable[..., Controller]) -> Controller:
    return controller_factory(stack)


@dataclass
class ExpiredRequest:
    stack: Stack
    controller: Controller
    name: str
    execution: dict[str, Any]


@pytest.fixture
def expired_request(emulator: Emulator, controller_factory: Callable[..., Controller]) -> ExpiredRequest:
    """A request the controller stored, whose 2-second approval timeout then ran out."""
    stack = make_stack(emulator, approval_timeout_seconds=2)
    controller = controller_factory(stack)
    name = stack.start()
    controller.wait_for_pending(name)
    return ExpiredRequest(stack, controller, name, stack.wait_until_finished(name))


@pytest.fixture(autouse=True)
def _no_real_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
