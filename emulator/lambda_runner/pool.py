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
            # Out of the terminal's process group, so Ctrl-C reaches the emulator, which stops its workers,
            # and not a worker still starting up (a KeyboardInterrupt traceback). A worker whose emulator
            # is gone, however it went, ends when its stdin closes.
            start_new_session=True,
        )

    def invoke(self, event: Any, timeout_seconds: float) -> dict[str, Any] | None:
        """Return the worker's reply, or None when the handler ran past its timeout."""
        assert self.process.stdin and self.process.stdout  # both are pipes: see __init__
        try:
            self.process.stdin.write(json.dumps(event) + "\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], timeout_seconds)
            line = self.process.stdout.readline() if ready else ""
        except (OSError, ValueError):  # it exited, or the pool stopped it and closed its pipes
            return None
        reply: dict[str, Any] | None = json.loads(line) if line else None
        return reply

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe:
                pipe.close()


class WorkerPool:
    """Idle warm workers per function, handler and code version; every worker, busy or idle, until stopped."""

    def __init__(self) -> None:
        self._idle: dict[str, list[Worker]] = {}
        self._started: set[Worker] = set()
        self._stopped = False
        self._lock = threading.Lock()

    def _code_dir(self, code_hash: str, zip_bytes: bytes) -> Path:
        code_dir = _CODE_ROOT / code_hash
        if not code_dir.exists():
            staging = Path(tempfile.mkdtemp(dir=_CODE_ROOT))
            zipfile.ZipFile(io.BytesIO(zip_bytes)).extractall(staging)
            staging.rename(code_dir)
        return code_dir

    def _take(self, key: str, function: LambdaFunction, code_hash: str) -> Worker | None:
        """An idle worker for the key, else a new one; None once the pool is stopped."""
        with self._lock:
            if self._stopped:
                return None
            idle = self._idle.setdefault(key, [])
            if idle:
                return idle.pop()
            code_dir = self._code_dir(code_hash, function.code_bytes)
            worker = Worker(code_dir, str(function.handler), function.function_name)
            self._started.add(worker)
            return worker

    def _give_back(self, key: str, worker: Worker) -> None:
        with self._lock:
            if not self._stopped:
                self._idle.setdefault(key, []).append(worker)
                return
        self._retire(worker)

    def _retire(self, worker: Worker) -> None:
        worker.stop()
        with self._lock:
            self._started.discard(worker)

    def run(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """Invoke the function once; return (payload, errored, logs) the way moto expects."""
        code_hash = hashlib.sha256(function.code_bytes).hexdigest()
        key = f"{function.function_arn}|{function.handler}|{code_hash}"
        worker = self._take(key, function, code_hash)
        reply = worker.invoke(event, float(function.timeout)) if worker else None
        if worker is None or reply is None:
            exited = worker is None or worker.process.poll() is not None
            if worker is not None:
                self._retire(worker)
            error = (
                {"errorType": "Runtime.ExitError", "errorMessage": "The runtime exited during the invocation."}
                if exited
                else {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {function.timeout} seconds",
                }
            )
            return json.dumps(error), True, ""
        self._give_back(key, worker)
        if reply["ok"]:
            return json.dumps(reply["result"]), False, ""
        return json.dumps(reply["error"]), True, ""

    def stop_all(self) -> None:
        """Stop every worker, busy ones included (their invocation fails), and remove the unpacked code."""
        with self._lock:
            self._stopped = True
            workers, self._started = self._started, set()
            self._idle.clear()
        for worker in workers:
            worker.stop()
        shutil.rmtree(_CODE_ROOT, ignore_errors=True)


POOL = WorkerPool()


def install() -> None:
    """Route moto's Lambda invocations to the worker pool."""

    def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return POOL.run(function, event if event is not None else {})

    LambdaFunction._invoke_lambda = invoke
