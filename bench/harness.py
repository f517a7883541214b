"""What the benchmark runs against: its own emulator process, controllers served in threads, counted AWS calls."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import quantiles
from typing import Any

import boto3
import requests
from werkzeug.serving import make_server

from controller import create_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_START_SECONDS = 90
HTTP_TIMEOUT_SECONDS = 30


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile_ms(seconds: list[float], percent: int) -> float:
    """Return the given percentile of durations in seconds, in milliseconds."""
    if len(seconds) < 2:
        return round(seconds[0] * 1000, 2) if seconds else float("nan")
    return round(quantiles(seconds, n=100, method="inclusive")[percent - 1] * 1000, 2)


def in_background(target: Callable[..., Any], *args: Any) -> Future:
    """Run target in a daemon thread, so Ctrl-C never waits for it; its result or error lands in the future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(target(*args))
        except BaseException as error:  # handed to whoever waits on the future
            future.set_exception(error)

    threading.Thread(target=run, daemon=True).start()
    return future


_sessions = threading.local()


def http() -> requests.Session:
    """Return this thread's keep-alive HTTP session, so connection set-up is not what gets measured."""
    if not hasattr(_sessions, "session"):
        _sessions.session = requests.Session()
    return _sessions.session


def call(method: str, url: str, body: Any = None) -> Any:
    """Send one request and return its JSON; a status other than 200 stops the run (no silent errors)."""
    response = http().request(method, url, json=body, timeout=HTTP_TIMEOUT_SECONDS)
    if response.status_code != 200:
        raise RuntimeError(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
    return response.json()


@dataclass
class Emulator:
    """The emulator's outputs (`terraform output -json` keys) and clients of its own for the bench."""

    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs["aws_endpoint_url"],
            region_name=self.outputs["aws_region"],
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )


def _wait_for_outputs(process: subprocess.Popen, outputs_file: Path, log_file: Path) -> dict[str, str]:
    deadline = time.monotonic() + EMULATOR_START_SECONDS
    while not outputs_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start; its log:\n{log_file.read_text()[-3000:]}")
        time.sleep(0.1)
    return {key: item["value"] for key, item in json.loads(outputs_file.read_text()).items()}


def _stop(process: subprocess.Popen) -> None:
    """Stop the emulator the way Ctrl-C would (it then stops its Lambda workers); kill it if it hangs."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def emulator(workdir: Path) -> Iterator[Emulator]:
    """Run `python -m emulator` on free ports until the block ends, however it ends."""
    outputs_file, log_file = workdir / "outputs.json", workdir / "emulator.log"
    command = [sys.executable, "-m", "emulator", "--port", str(free_port()), "--api-port", str(free_port())]
    with log_file.open("w") as log:
        # its own session: Ctrl-C reaches only the bench, whose `finally` stops the emulator in order
        process = subprocess.Popen(
            [*command, "--outputs", str(outputs_file)],
            cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "TMPDIR": str(workdir)},  # its unpacked Lambda code goes with the workdir
        )
    try:
        yield Emulator(_wait_for_outputs(process, outputs_file, log_file))
    finally:
        _stop(process)


class AwsCallCounter:
    """Counts the controller's AWS requests per operation, and the time spent in them, through botocore's hooks."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.sends: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        for client in clients.values():
            client.meta.events.register("before-call", self._on_call)
            client.meta.events.register("before-send", self._on_send)
            client.meta.events.register("after-call", self._on_answer)

    def _on_call(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()  # the call's own context: safe across threads
        with self._lock:
            self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def _on_answer(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.seconds[event_name.rsplit(".", 1)[-1]] += time.perf_counter() - context["bench_started"]

    def _on_send(self, event_name: str, **_: Any) -> None:
        # must return None: a before-send handler's return value would replace the HTTP response
        with self._lock:
            self.sends[event_name.rsplit(".", 1)[-1]] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.sends.clear()
            self.seconds.clear()

    def retries(self) -> int:
        """Return HTTP requests beyond one per API call: botocore's retries."""
        return sum(self.sends.values()) - sum(self.calls.values())


@dataclass
class Controller:
    """A controller app served over real HTTP in this process, with its AWS requests counted."""

    url: str
    counter: AwsCallCounter


def controller_config(env: Emulator, queue_url: str, database: Path, **overrides: Any) -> dict[str, Any]:
    """Return the controller's test_config, as tests/conftest.py's controller_factory builds it."""
    return {
        "CONFIG_SOURCE": "emulator",
        "APPROVAL_QUEUE_URL": queue_url,
        "AWS_ENDPOINT_URL": env.outputs["aws_endpoint_url"],
        "AWS_REGION": env.outputs["aws_region"],
        "DATABASE": str(database),
        "PULL_WAIT_SECONDS": 0,
        **overrides,
    }


@contextmanager
def controller(config: dict[str, Any]) -> Iterator[Controller]:
    """Serve create_app(config) on a free port in a thread until the block ends."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request would bury the progress bars
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Controller(f"http://127.0.0.1:{server.server_port}", AwsCallCounter(app.extensions["aws"]))
    finally:
        server.shutdown()
        server.server_close()
