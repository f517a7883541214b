"""Runs Lambda functions for moto without Docker: the deployed zip, in warm worker processes.

moto hands every Invoke to LambdaFunction._invoke_lambda, which needs Docker. This
module replaces that method. Each function gets a pool of worker processes (one per
concurrent invocation, as Lambda has one container per concurrent request); a worker
stays alive between invocations, so only the first call pays the import.
"""

from __future__ import annotations

import hashlib
import io
import json
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaFunction

from stack.paths import PROJECT_ROOT

_CODE_ROOT = Path(tempfile.mkdtemp(prefix="emulator-lambda-"))


class Worker:
    """A warm process that runs one function's handler."""

    def __init__(self, code_dir: Path, handler: str, function_name: str) -> None:
        self.process: subprocess.Popen[str] = subprocess.Popen(
            [sys.executable, "-m", "emulator.lambda_runner.worker", str(code_dir), handler, function_name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )

    def invoke(self, event: Any, timeout_seconds: float) -> dict[str, Any] | None:
        """Return the worker's reply, or None when the handler ran past its timeout."""
        assert self.process.stdin and self.process.stdout  # both are pipes: see __init__
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_seconds)
        line = self.process.stdout.readline() if ready else ""
        reply: dict[str, Any] | None = json.loads(line) if line else None
        return reply

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class WorkerPool:
    """Idle warm workers per function, handler and code version."""

    def __init__(self) -> None:
        self._idle: dict[str, list[Worker]] = {}
        self._lock = threading.Lock()

    def _code_dir(self, code_hash: str, zip_bytes: bytes) -> Path:
        code_dir = _CODE_ROOT / code_hash
        if not code_dir.exists():
            staging = Path(tempfile.mkdtemp(dir=_CODE_ROOT))
            zipfile.ZipFile(io.BytesIO(zip_bytes)).extractall(staging)
            staging.rename(code_dir)
        return code_dir

    def run(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """Invoke the function once; return (payload, errored, logs) the way moto expects."""
        code_hash = hashlib.sha256(function.code_bytes).hexdigest()
        key = f"{function.function_arn}|{function.handler}|{code_hash}"
        with self._lock:
            idle = self._idle.setdefault(key, [])
            worker = idle.pop() if idle else None
            if worker is None:
                code_dir = self._code_dir(code_hash, function.code_bytes)
        if worker is None:
            worker = Worker(code_dir, str(function.handler), function.function_name)
        reply = worker.invoke(event, float(function.timeout))
        if reply is None:
            exited = worker.process.poll() is not None
            worker.stop()
            error = (
                {"errorType": "Runtime.ExitError", "errorMessage": "The runtime exited during the invocation."}
                if exited
                else {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {function.timeout} seconds",
                }
            )
            return json.dumps(error), True, ""
        with self._lock:
            self._idle[key].append(worker)
        if reply["ok"]:
            return json.dumps(reply["result"]), False, ""
        return json.dumps(reply["error"]), True, ""

    def stop_all(self) -> None:
        """Stop every idle worker and remove the unpacked code."""
        with self._lock:
            for workers in self._idle.values():
                for worker in workers:
                    worker.stop()
            self._idle.clear()
        shutil.rmtree(_CODE_ROOT, ignore_errors=True)


POOL = WorkerPool()


def install() -> None:
    """Route moto's Lambda invocations to the worker pool."""

    def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return POOL.run(function, event if event is not None else {})

    LambdaFunction._invoke_lambda = invoke
