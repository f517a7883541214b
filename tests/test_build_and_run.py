"""./build_and_run.sh owns what it starts: however it ends, nothing it started is left, no port is taken; with
--controllers N it starts N controllers on the emulator's table, sharing one signing key, and refuses a count
it cannot start before starting anything."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests

from controller.storage.dynamodb import DynamoDbBackend
from harness.controllers import TEST_PASSWORD
from harness.emulator import Emulator
from harness.orders import ORDER
from harness.script import ScriptRun
from harness.waiting import wait_for

slow = pytest.mark.slow  # each starts the whole stack


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


@slow
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


@slow
@pytest.mark.parametrize("child", ["controller", "emulator"])
def test_a_child_that_dies_ends_the_script_which_says_which(run: ScriptRun, child: str) -> None:
    pid = run.pid_of(child)

    os.kill(pid, signal.SIGKILL)

    assert run.wait() != 0
    assert f"the {child} (pid {pid}) exited" in run.log
    assert run.left_behind() == ({}, [])


@slow
def test_one_of_several_controllers_that_dies_ends_the_script_which_says_which(script: ScriptRun) -> None:
    script.start("--controllers", "2", controllers=2)
    port = script.ports["controller 2"]
    pid = script.pid_serving(port)

    os.kill(pid, signal.SIGKILL)

    assert script.wait() != 0
    assert f"the controller on port {port} (pid {pid}) exited" in script.log
    assert script.left_behind() == ({}, [])


@slow
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
    assert (run.workdir / "approvals.sqlite3").is_file()  # the quick start's store, as before --controllers
    assert not (run.workdir / "secret_key").exists()


@pytest.fixture
def script(tmp_path: Path) -> Iterator[ScriptRun]:
    """A run not started yet; whatever it starts is killed after the test."""
    script = ScriptRun(tmp_path)
    yield script
    script.kill_everything()


@pytest.mark.parametrize(
    ("options", "environment", "refusal"),
    [
        (["--controllers", "0"], {}, "--controllers takes how many controllers to start, a whole number from 1"),
        (["--controllers", "abc"], {}, "a whole number from 1 (not 'abc')"),
        (["--controllers=-2"], {}, "a whole number from 1 (not '-2')"),
        (["--controllers", ""], {}, "a whole number from 1 (not '')"),
        (["--controllers"], {}, "--controllers needs a number"),
        (["--controllers", "3"], {"CONTROLLER_PORT": "65534"}, "from CONTROLLER_PORT=65534 to 65535 there are only 2"),
        (["--controllers", "99999999999999999999"], {}, "there are only"),
        (["--controllers", "2"], {"CONTROLLER_PORT": "http"}, "CONTROLLER_PORT must be a port number"),
        (
            ["--controllers", "20"],
            {"CONTROLLER_PORT": "4990", "EMULATOR_PORT": "5000"},
            "would use ports 4990-5009, and EMULATOR_PORT=5000 is one of them",
        ),
        (["--controllers", "2"], {"CONTROLLER_STORE": "sqlite"}, "not CONTROLLER_STORE=sqlite"),
        (["--local", "--aws"], {}, "choose one of --local, --terraform and --aws"),
    ],
)
def test_what_it_cannot_start_is_refused_before_anything_starts(
    script: ScriptRun, options: list[str], environment: dict[str, str], refusal: str
) -> None:
    script.environment = environment

    status = script.run_to_end(*options)

    assert status == 2
    (line,) = script.log.splitlines()  # that line only: nothing built, nothing started
    assert line.startswith("build_and_run.sh: ") and refusal in line
    assert not script.outputs_file.exists() and not (script.workdir / "secret_key").exists()


@pytest.mark.parametrize(
    ("key", "mode", "refusal"),
    [
        ("k" * 64, 0o644, "may be read by other users (mode 0644): run chmod 600"),
        ("short", 0o600, "holds a key of 5 characters, and at least 32 are needed"),
    ],
)
def test_a_signing_key_file_others_may_read_or_too_short_is_refused_before_anything_starts(
    script: ScriptRun, key: str, mode: int, refusal: str
) -> None:
    key_file = script.workdir / "secret_key"
    key_file.write_text(key)
    key_file.chmod(mode)

    status = script.run_to_end("--controllers", "2")

    assert status == 1
    (line,) = script.log.splitlines()
    assert str(key_file) in line and refusal in line
    assert not script.outputs_file.exists() and key_file.read_text() == key


def form_cookie_and_token(session: requests.Session, url: str) -> str:
    """Fetch the sign-in form, as a browser opens it; return its CSRF token (the session keeps the cookie)."""
    form = session.get(url + "/signin", timeout=30).text
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


@slow
def test_three_controllers_share_the_emulators_table_and_one_signing_key_kept_across_runs(script: ScriptRun) -> None:
    script.start("--controllers", "3", controllers=3)
    first, second, third = script.controller_urls()
    key_file = script.workdir / "secret_key"
    key = key_file.read_text()
    users_add = re.search(r"Users, on the table: +(.+)", script.log).group(1).replace("NAME", "grace")
    added = subprocess.run(  # as the script printed it
        ["bash", "-c", users_add], input=TEST_PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False
    )
    token = {"Authorization": f"Bearer {added.stdout.split()[-1]}"}
    start_an_order(script)
    (request,) = wait_for(
        lambda: requests.get(f"{second}/pending", headers=token, timeout=30).json()["pending"], 60, "the order"
    )
    with requests.Session() as browser, requests.Session() as open_tab:
        csrf = form_cookie_and_token(browser, first)
        signed_in = browser.post(
            first + "/signin", data={"csrf_token": csrf, "name": "grace", "password": TEST_PASSWORD}, timeout=30
        )
        pages = [browser.get(url + "/", timeout=30) for url in (second, third)]  # the session, on the others
        decided = requests.post(f"{third}/approve/{request['id']}", headers=token, timeout=30)
        seen = requests.get(f"{first}/approvals/{request['id']}", headers=token, timeout=30).json()["request"]
        form_before = form_cookie_and_token(open_tab, second)
        script.signal_group(signal.SIGINT)
        script.wait()
        left = script.left_behind()
        script.start("--controllers", "3", controllers=3)
        # a form the first run served still posts to the second run's controllers: the same key signed it
        after_restart = open_tab.post(
            third + "/signin", data={"csrf_token": form_before, "name": "x", "password": "y"}, timeout=30
        )

    assert (
        "3 controllers, ports" in script.log
        and f"on the DynamoDB table {script.outputs()['approvals_table_name']}" in script.log
    )
    assert f"kill {script.process.pid}" in script.log and str(key_file) in script.log
    assert added.returncode == 0, added.stderr
    assert [page.status_code for page in pages] == [200, 200] and all("Signed in as" in page.text for page in pages)
    assert signed_in.status_code == 200 and decided.status_code == 200 and seen["state"] == "approved"
    assert left == ({}, [])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key.strip()) >= 32
    assert key_file.read_text() == key
    assert after_restart.status_code == 401  # past the CSRF check (403 otherwise), to the wrong password
    assert not (script.workdir / "approvals.sqlite3").exists()


@slow
def test_one_controller_on_the_table_signs_with_the_key_it_was_given(script: ScriptRun) -> None:
    script.environment = {"CONTROLLER_STORE": "dynamodb", "CONTROLLER_SECRET_KEY": "k" * 40}
    script.start()

    start_an_order(script)
    controller = script.controller_urls()[0]
    (request,) = wait_for(lambda: requests.get(f"{controller}/pending", timeout=30).json()["pending"], 60, "pending")
    table = DynamoDbBackend(
        Emulator(script.outputs(), script.process).client("dynamodb"), script.outputs()["approvals_table_name"]
    )
    with closing(table.open()) as store:
        stored = store.get_request(request["id"])

    assert "the controller, port" in script.log and "Signing key (CONTROLLER_SECRET_KEY): as you set it" in script.log
    assert stored is not None and stored.state == "pending"
    assert not (script.workdir / "secret_key").exists() and not (script.workdir / "approvals.sqlite3").exists()
