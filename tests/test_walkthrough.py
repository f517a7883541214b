"""The README's walkthrough and the commands ./build_and_run.sh prints, pasted verbatim into a shell.

They name ports 3000, 4000 and 5000 and `.emulator/outputs.json`, so the stack runs as a user runs it,
on those ports, in a copy of the checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.script import DEFAULT_PORTS, ScriptRun, copy_of_checkout, listening
from harness.waiting import wait_for
from stack.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow  # a start of the whole stack
CONTROLLER = "http://127.0.0.1:3000"
DONE = "__BLOCK_DONE__"


class Shell:
    """One bash process that blocks are pasted into, one after the other, keeping its variables."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def paste(self, block: str) -> tuple[int, str]:
        """Run the block; return the status of its last command and what it printed."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{block}\nprintf '\\n{DONE} %s\\n' $?\n")
        self.process.stdin.flush()
        printed = []
        for line in self.process.stdout:
            if line.startswith(DONE):
                return int(line.split()[1]), "".join(printed)
            printed.append(line)
        raise AssertionError(f"the shell ended while running:\n{block}\n{''.join(printed)}")

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=30)
        assert self.process.stdout
        self.process.stdout.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[ScriptRun]:
    busy = [port for port in DEFAULT_PORTS.values() if listening(port)]
    if busy:
        pytest.skip(f"ports {busy} are in use (a ./build_and_run.sh running?); the walkthrough names them")
    missing = [tool for tool in ("curl", "python3", "git") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the walkthrough needs {', '.join(missing)} on the PATH")
    run = ScriptRun(tmp_path, checkout=copy_of_checkout(tmp_path / "checkout"), default_ports=True)
    run.start()
    yield run
    run.kill_everything()


@pytest.fixture
def shell(stack: ScriptRun) -> Iterator[Shell]:
    pasted_into = Shell(stack.checkout)
    yield pasted_into
    pasted_into.close()


def readme_walkthrough() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Walkthrough with curl", 1)[1].split("\n## ", 1)[0]
    return [re.sub(r"^ {3}", "", block, flags=re.M) for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def printed_commands(log: str) -> list[str]:
    """The commands after "Ready.", one per paste: a line ending in a backslash continues on the next."""
    printed = log.split("Ready.", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [command.strip() for command in "\n".join(printed).replace("\\\n", "\\\u0000").split("\n")]


def pending_orders() -> list[str]:
    answer = requests.get(f"{CONTROLLER}/pending", timeout=30).json()
    return [request["order"]["order_id"] for request in answer["pending"]]


def paste(shell: Shell, block: str) -> str:
    if "/pending | python3" in block:  # as the README says: once /pending lists it
        wait_for(pending_orders, 60, "an order on /pending")
    status, printed = shell.paste(block)
    assert status == 0, f"{block}\n{printed}"
    return printed


def decided(request_id: str) -> dict[str, object]:
    def settled() -> dict[str, object] | None:
        request: dict[str, object] = requests.get(f"{CONTROLLER}/approvals/{request_id}", timeout=30).json()
        execution = request.get("execution") or {}
        return request if isinstance(execution, dict) and execution.get("status") != "RUNNING" else None

    return wait_for(settled, 60, f"{request_id}'s execution to end")


def test_the_readme_walkthrough_and_the_printed_commands_paste_as_is(stack: ScriptRun, shell: Shell) -> None:
    for block in readme_walkthrough():
        paste(shell, block)
    approved, rejected = (shell.paste(f"echo ${name}")[1].strip() for name in ("id", "second"))

    assert decided(approved)["execution"]["status"] == "SUCCEEDED"  # type: ignore[index]
    execution = decided(rejected)["execution"]
    assert (execution["status"], execution["error"], execution["cause"]) == (  # type: ignore[index]
        "FAILED",
        "Rejected",
        "Over the credit limit.",
    )

    start, *rest = printed_commands(stack.log)
    paste(shell, start.replace("\u0000", "\n"))
    paste(shell, start.replace("\u0000", "\n"))
    orders = wait_for(lambda: (lambda ids: ids if len(ids) == 2 else None)(pending_orders()), 60, "both orders")
    assert len(set(orders)) == 2  # each paste sends an order of its own
    for command in rest:
        paste(shell, command)
    (approved_by_print,) = [line for line in shell.paste("echo $id")[1].split() if line]
    assert decided(approved_by_print)["execution"]["status"] == "SUCCEEDED"  # type: ignore[index]
