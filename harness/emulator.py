"""`python -m emulator` on free ports, as its own process, for as long as a block runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from harness.waiting import free_port
from stack.paths import PROJECT_ROOT

START_SECONDS = 90
STOP_SECONDS = 15


@dataclass
class Emulator:
    """A running emulator: its outputs (the keys of `terraform output -json`) and its process."""

    outputs: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def gateway_url(self) -> str:
        """Where the emulator's API Gateway listens."""
        return self.outputs["api_gateway_url"]

    def client(self, service: str, endpoint_url: str | None = None, config: Config | None = None) -> Any:
        """Return a new boto3 client for the emulator, or for a proxy in front of it (one per thread)."""
        return boto3.client(
            service,
            endpoint_url=endpoint_url or self.outputs["aws_endpoint_url"],
            region_name=self.outputs["aws_region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )


def _wait_for_outputs(process: subprocess.Popen[bytes], outputs_file: Path, log_file: Path) -> dict[str, str]:
    deadline = time.monotonic() + START_SECONDS
    while not outputs_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start; its log:\n{log_file.read_text()[-3000:]}")
        time.sleep(0.1)
    return {key: item["value"] for key, item in json.loads(outputs_file.read_text()).items()}


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process the way Ctrl-C would, so it cleans up after itself; kill it if it hangs."""
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_emulator(workdir: Path, *options: str, module: str = "emulator") -> Iterator[Emulator]:
    """Run the emulator (with options such as --empty) until the block ends, however it ends; its log and
    unpacked Lambda code stay in workdir. `module` is what `python -m` runs: another for a variant of it."""
    workdir.mkdir(parents=True, exist_ok=True)
    outputs_file, log_file = workdir / "outputs.json", workdir / "emulator.log"
    command = [sys.executable, "-m", module, "--port", str(free_port()), "--api-port", str(free_port()), *options]
    with log_file.open("w") as log:
        # a session of its own: Ctrl-C reaches only the caller, whose `finally` stops the emulator in order
        process = subprocess.Popen(
            [*command, "--outputs", str(outputs_file)],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(workdir)},
        )
    try:
        yield Emulator(_wait_for_outputs(process, outputs_file, log_file), process)
    finally:
        stop(process)


@contextmanager
def hung(emulator: Emulator) -> Iterator[None]:
    """Stop the emulator with SIGSTOP for the block, then continue it: to its clients, AWS hangs.

    Connections are still accepted (by the kernel), but nothing answers: a black hole, not a refusal.
    """
    os.killpg(emulator.process.pid, signal.SIGSTOP)  # its own session: the emulator and its helpers
    try:
        yield
    finally:
        os.killpg(emulator.process.pid, signal.SIGCONT)
