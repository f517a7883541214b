"""./build_and_run.sh owns what it starts: however it ends, nothing it started is left, no port is taken."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.orders import ORDER
from harness.script import ScriptRun
from harness.waiting import wait_for

pytestmark = pytest.mark.slow  # five starts of the whole stack


@pytest.fixture
def run(tmp_path: Path) -> Iterator[ScriptRun]:
    script = ScriptRun(tmp_path)
    script.start("--local")
    yield script
    script.kill_everything()


def start_an_order(run: ScriptRun) -> None:
    """Start an order, so a Lambda worker is running too."""
    outputs = run.outputs()
    answer = requests.post(outputs["api_url"], json=ORDER, headers={"x-api-key": outputs["api_key"]}, timeout=30)
    assert answer.status_code == 200, answer.text
    wait_for(lambda: any("lambda_runner.worker" in c for c in run.processes().values()), 60, "a Lambda worker")


@pytest.mark.parametrize(
    ("how", "stop"),
    [
        ("Ctrl-C", lambda run: run.signal_group(signal.SIGINT)),
        ("kill of the script", lambda run: run.process.terminate()),
        ("a closed terminal", lambda run: run.signal_group(signal.SIGHUP)),
    ],
)
def test_stopping_the_script_stops_everything_it_started_without_a_traceback(run: ScriptRun, how, stop) -> None:
    start_an_order(run)

    stop(run)

    assert run.wait() != 0
    assert run.left_behind() == ({}, [])
    assert "Traceback" not in run.log


@pytest.mark.parametrize("child", ["controller", "emulator"])
def test_a_child_that_dies_ends_the_script_which_says_which(run: ScriptRun, child: str) -> None:
    pid = run.pid_of(child)

    os.kill(pid, signal.SIGKILL)

    assert run.wait() != 0
    assert f"the {child} (pid {pid}) exited" in run.log
    assert run.left_behind() == ({}, [])


def test_a_restart_closes_the_old_pending_requests_and_the_first_printed_curl_still_starts_an_order(
    run: ScriptRun,
) -> None:
    old = run.outputs()
    start_an_order(run)
    controller = f"http://127.0.0.1:{run.ports['controller']}"
    (stale,) = wait_for(lambda: requests.get(f"{controller}/pending", timeout=30).json()["pending"], 60, "pending")
    run.process.terminate()
    run.wait()

    run.start("--local")

    assert requests.get(f"{controller}/pending", timeout=30).json()["pending"] == []
    closed = requests.get(f"{controller}/approvals/{stale['id']}", timeout=30).json()["request"]
    assert (closed["state"], closed["closed_reason"]) == (
        "closed",
        "The emulator was restarted; its executions are gone.",
    )
    answer = requests.post(old["api_url"], json=ORDER, headers={"x-api-key": old["api_key"]}, timeout=30)
    assert answer.status_code == 200, answer.text
