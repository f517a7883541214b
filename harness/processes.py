"""A controller in a process of its own, as `python -m controller` serves it (waitress): started,
killed without clean-up, restarted on the same database, checked for readiness, or set to crash at a
named point (harness/crash_at.py). For the tests that take a controller down mid-work.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from harness.controllers import HTTP_TIMEOUT_SECONDS, controller_environment
from harness.crash_at import KILLED
from harness.emulator import Emulator
from harness.waiting import free_port, wait_for

READY_SECONDS = 30


class ControllerProcess:
    """`python -m controller` on a free port and a given database; each start appends to one log file.

    With a token, every call it makes carries `Authorization: Bearer <token>`. With crash_at, a botocore
    event name, the process dies (exit 137) when its AWS clients reach that event. With aws_endpoint_url,
    its AWS requests go there (a proxy in front of the emulator) instead of to the emulator.
    """

    def __init__(
        self,
        emulator: Emulator,
        queue_url: str,
        database: Path,
        log: Path,
        token: str | None = None,
        crash_at: str | None = None,
        aws_endpoint_url: str | None = None,
        **settings: str,
    ) -> None:
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.crash_at = crash_at
        self.environment = controller_environment(emulator, queue_url, database, PORT=str(self.port), **settings)
        if aws_endpoint_url:
            self.environment["AWS_ENDPOINT_URL"] = aws_endpoint_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process; it may not answer yet (see wait_until_ready)."""
        command = ["-m", "controller"] if self.crash_at is None else ["-m", "harness.crash_at", self.crash_at]
        with self.log.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([sys.executable, *command], env=self.environment, stdout=log, stderr=log)

    def ready(self) -> bool:
        """Whether the process serves HTTP now."""
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_until_ready(self) -> None:
        """Wait until it serves; fail with its log if it exits first."""
        wait_for(lambda: self.ready() or self.exited() is not None, READY_SECONDS, f"the controller on {self.url}")
        if self.exited() is not None:
            raise AssertionError(f"the controller exited with {self.exited()}:\n{self.log.read_text(errors='replace')}")

    def exited(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def call_until_crashed(self, method: str, path: str, timeout: float = 15) -> None:
        """Send the call until the process dies of its crash point; fail unless that is how it ended."""

        def crashed() -> bool:
            with contextlib.suppress(requests.ConnectionError):
                requests.request(method, self.url + path, headers=self.headers, timeout=5)
            return self.exited() is not None

        wait_for(crashed, timeout, f"the controller to crash at {self.crash_at} during {method} {path}")
        assert self.exited() == KILLED, f"the controller exited with {self.exited()}, not at its crash point"

    def kill(self) -> None:
        """SIGKILL: no clean-up, whatever it was doing."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def restart(self, crash_at: str | None = None) -> None:
        """Kill it if it runs, then start it again on the same port and database, with this crash point."""
        self.kill()
        self.crash_at = crash_at
        self.start()

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers, timeout=HTTP_TIMEOUT_SECONDS)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.headers, timeout=HTTP_TIMEOUT_SECONDS)


@contextlib.contextmanager
def running_controllers(
    emulator: Emulator, queue_url: str, workdir: Path, count: int, aws_endpoint_url: str | None = None, **settings: str
) -> Iterator[list[ControllerProcess]]:
    """Start `count` controller processes of one queue at once, each with its database and log in workdir,
    wait until every one serves, and kill them all when the block ends, however it ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = [
        ControllerProcess(
            emulator,
            queue_url,
            workdir / f"controller-{index}.sqlite3",
            workdir / f"controller-{index}.log",
            aws_endpoint_url=aws_endpoint_url,
            **settings,
        )
        for index in range(count)
    ]
    try:
        for controller in started:
            controller.start()
        for controller in started:
            controller.wait_until_ready()
        yield started
    finally:
        for controller in started:
            controller.kill()
