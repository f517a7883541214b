"""./build_and_run.sh as a user runs it, on free ports with its state in a directory of its own."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness.waiting import free_port, free_ports, wait_for
from stack.paths import PROJECT_ROOT

READY_SECONDS = 180  # a first start builds the Lambda package and may run terraform init
STOP_SECONDS = 20
DEFAULT_PORTS = {"controller": 3000, "aws": 5000, "gateway": 4000}
READY = "controller ready on"  # what the controller prints once it serves
MARK = "BUILD_AND_RUN_TEST_RUN"  # every process the script starts inherits it, so a test can find them all


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # ended meanwhile, or not ours to read
        return b""


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class ScriptRun:
    """A running ./build_and_run.sh: its process, its ports, and what it printed."""

    workdir: Path
    checkout: Path = PROJECT_ROOT
    default_ports: bool = False  # as a user runs it: ports 3000, 4000 and 5000, state inside the checkout
    ports: dict[str, int] = field(default_factory=dict)
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    environment: dict[str, str] = field(default_factory=dict)  # set for the script besides the ports and paths
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        return (self.workdir / "script.log").read_text(errors="replace")

    def start(self, *options: str, controllers: int = 1) -> None:
        """Start the script in a session of its own (as a terminal would run it) and wait for its controllers
        (on consecutive ports from the first one's)."""
        started = self.log.count(READY) if (self.workdir / "script.log").exists() else 0  # a restart appends
        process = self._launch(options, controllers)
        wait_for(
            lambda: self.log.count(READY) >= started + controllers or process.poll() is not None, READY_SECONDS, "Ready"
        )
        assert process.poll() is None, f"the script ended before its controllers were ready:\n{self.log[-3000:]}"

    def run_to_end(self, *options: str) -> int:
        """Run the script with options it ends on by itself (a refusal); return its exit status."""
        self._launch(options, 1)
        return self.wait()

    def _launch(self, options: tuple[str, ...], controllers: int) -> subprocess.Popen[bytes]:
        environ = {**os.environ, MARK: self.mark, "VENV": sys.prefix, "TMPDIR": str(self.workdir)}
        if self.default_ports:
            self.ports = DEFAULT_PORTS
        else:
            if not self.ports:
                first = free_ports(controllers)
                self.ports = {"aws": free_port(), "gateway": free_port()}
                self.ports |= {controller_name(i): first + i for i in range(controllers)}
            environ |= {
                "CONTROLLER_PORT": str(self.ports["controller"]),
                "EMULATOR_PORT": str(self.ports["aws"]),
                "EMULATOR_API_PORT": str(self.ports["gateway"]),
                "EMULATOR_OUTPUTS": str(self.outputs_file),
                "CONTROLLER_DATABASE": str(self.workdir / "approvals.sqlite3"),
            }
        environ |= self.environment
        # The venv running the tests has the project installed; the script must not reinstall it from here.
        (Path(sys.prefix) / ".installed").touch()
        with (self.workdir / "script.log").open("ab") as log:
            process = self.process = subprocess.Popen(
                [str(self.checkout / "build_and_run.sh"), *options],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environ,
                start_new_session=True,
            )
        return process

    def controller_urls(self) -> list[str]:
        """The address of each controller the run serves, first port first."""
        ports = sorted(port for name, port in self.ports.items() if name.startswith("controller"))
        return [f"http://127.0.0.1:{port}" for port in ports]

    @property
    def outputs_file(self) -> Path:
        return self.checkout / ".emulator" / "outputs.json" if self.default_ports else self.workdir / "outputs.json"

    def outputs(self) -> dict[str, str]:
        raw = json.loads(self.outputs_file.read_text())
        return {key: item["value"] for key, item in raw.items()}

    def processes(self) -> dict[int, str]:
        """Every live process this run started, the script itself included: pid -> command line."""
        marker = f"{MARK}={self.mark}".encode()
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
        return {pid: _command_line(pid) for pid in pids if marker in _environ(pid).split(b"\0")}

    def pid_of(self, module: str) -> int:
        (pid,) = [pid for pid, command in self.processes().items() if f"-m {module} " in f"{command} "]
        return pid

    def pid_serving(self, port: int) -> int:
        """The pid of the run's controller on that port."""
        setting = f"CONTROLLER_PORT={port}".encode()
        (pid,) = [
            pid
            for pid, command in self.processes().items()
            if "-m controller " in f"{command} " and setting in _environ(pid).split(b"\0")
        ]
        return pid

    def signal_group(self, signum: int) -> None:
        """Send a signal to the script's process group, as a terminal does on Ctrl-C or when it closes."""
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def wait(self) -> int:
        """Wait for the script to end; return its status."""
        assert self.process is not None
        return self.process.wait(timeout=STOP_SECONDS)

    def left_behind(self) -> tuple[dict[int, str], list[int]]:
        """What is still running and which ports still listen, once the script has ended."""

        def gone() -> bool:
            return not self.processes()

        with contextlib.suppress(TimeoutError):
            wait_for(gone, STOP_SECONDS, "every process of the run to end")
        return self.processes(), [port for port in self.ports.values() if listening(port)]

    def kill_everything(self) -> None:
        """Kill whatever of the run is left, so a failed test leaves nothing either."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()


def controller_name(index: int) -> str:
    """The key of the index-th controller's port in ScriptRun.ports: "controller", then "controller 2"..."""
    return "controller" if index == 0 else f"controller {index + 1}"


def copy_of_checkout(destination: Path) -> Path:
    """Copy the checkout's tracked files, as a fresh clone has them, and return where."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = PROJECT_ROOT / name, destination / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
