"""Controllers for tests and the benchmark: their config, their environment, and one served in a thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import requests
from waitress import wasyncore

from controller import create_app
from controller.access import credentials
from controller.service.startup import prepare_to_serve, wsgi_server
from controller.storage import db
from controller.storage.interface import Backend
from controller.storage.sqlite import SqliteBackend
from harness.emulator import Emulator
from harness.waiting import wait_for

HTTP_TIMEOUT_SECONDS = 30
STREAM_END_SECONDS = 30  # longer than an /events stream lasts
TEST_PASSWORD = "correct horse battery staple"


def add_user(
    database: Path | str, name: str, role: str = "approver", password: str = TEST_PASSWORD, groups: tuple[str, ...] = ()
) -> str:
    """Add a user to a controller's SQLite database, as `python -m controller users add` does; return their token."""
    return add_user_to(SqliteBackend(str(database)), name, role, password, groups)


def add_user_to(
    backend: Backend, name: str, role: str = "approver", password: str = TEST_PASSWORD, groups: tuple[str, ...] = ()
) -> str:
    """Add a user to a controller's store, as `python -m controller users add` does; return their API token."""
    backend.migrate()
    token = credentials.new_token()
    hashes = credentials.hash_password(password), credentials.hash_token(token)
    with closing(backend.open()) as store:
        if not store.add_user(name, role, *hashes, groups):
            raise ValueError(f"{name} is already a user")
    return token


def make_newer_than_the_code(database: Path | str) -> None:
    """Leave a controller database as a later version of the code would: one migration past the newest here."""
    db.init_db(str(database))
    connection = db.connect(str(database))
    try:
        connection.execute(f"PRAGMA user_version = {len(db.MIGRATIONS) + 1}")
    finally:
        connection.close()


def offline_config(database: Path | str, **overrides: Any) -> dict[str, Any]:
    """Return create_app's config for a controller with no stack: AWS at a closed port, its own SQLite file."""
    return {
        "CONFIG_SOURCE": "environment",
        "APPROVAL_QUEUE_URL": "http://127.0.0.1:9/q",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "eu-west-1",
        "AWS_MAX_ATTEMPTS": 1,
        "DATABASE": str(database),
        **overrides,
    }


def users_command(database: Path | str, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m controller users ...` on a database as an operator would, the password on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "controller", "users", *args],
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        env={"CONTROLLER_DATABASE": str(database), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


def controller_config(emulator: Emulator, queue_url: str, database: Path, **overrides: Any) -> dict[str, Any]:
    """Return create_app's config for a controller of this queue with its own SQLite file."""
    return {
        "CONFIG_SOURCE": "emulator",
        "APPROVAL_QUEUE_URL": queue_url,
        "AWS_ENDPOINT_URL": emulator.outputs["aws_endpoint_url"],
        "AWS_REGION": emulator.outputs["aws_region"],
        "DATABASE": str(database),
        "PULL_WAIT_SECONDS": 1,  # short, so a stopped controller's long poll ends soon
        **overrides,
    }


def controller_environment(emulator: Emulator, queue_url: str, database: Path, **settings: str) -> dict[str, str]:
    """Return the environment of a `python -m controller` process with the same settings as controller_config."""
    return {
        **os.environ,
        "APPROVAL_QUEUE_URL": queue_url,
        "AWS_ENDPOINT_URL": emulator.outputs["aws_endpoint_url"],
        "AWS_REGION": emulator.outputs["aws_region"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CONTROLLER_DATABASE": str(database),
        "CONTROLLER_PULL_WAIT_SECONDS": "1",
        **{f"CONTROLLER_{key}": value for key, value in settings.items()},
    }


class ServedController:
    """create_app(config), prepared and served over real HTTP on a free port in a thread, as the server does.

    With a token, every call it makes carries `Authorization: Bearer <token>`.
    """

    def __init__(self, config: dict[str, Any], token: str | None = None) -> None:
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.stopped = False
        self.app = create_app(config)
        self.background = prepare_to_serve(self.app)
        self.server = wsgi_server(self.app, port=0)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        threading.Thread(target=self.server.run, daemon=True).start()

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers, timeout=HTTP_TIMEOUT_SECONDS)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.headers, timeout=HTTP_TIMEOUT_SECONDS)

    def wait_for_pending(self, request_id: str, timeout: float = 15) -> dict[str, Any]:
        """Poll GET /pending until it lists the request; return its entry. A 503 (the store not yet tried again
        after an outage) is asked again."""

        def listed() -> dict[str, Any] | None:
            answer = self.get("/pending")
            if answer.status_code == 503:
                return None
            return next((r for r in answer.json()["pending"] if r["id"] == request_id), None)

        return wait_for(listed, timeout, f"request {request_id} in /pending")

    def stop(self) -> None:
        """Close every connection and the listener, then let the threads finish and close the rest.

        waitress's worker threads wake its loop through a pipe (the trigger) whose raw descriptor
        numbers they keep; it is closed last, once no worker can write to it, so that no write ever
        lands on a descriptor number the process has meanwhile given to something else.
        """
        if self.stopped:
            return
        self.stopped = True
        closed = threading.Event()

        def close_connections() -> None:
            # in the server's own loop thread, so its poll never meets a socket closed under it
            for channel in list(self.server._map.values()):
                if channel is self.server:
                    wasyncore.dispatcher.close(channel)  # the listener only; BaseWSGIServer.close takes the trigger too
                elif channel is not self.server.trigger:
                    channel.close()  # a worker still writing to it (an /events stream) sees it gone
            closed.set()

        self.server.trigger.pull_trigger(close_connections)
        closed.wait(5)
        if self.background:
            self.background.stop()
        threading.Thread(target=self._close_when_idle, daemon=True).start()

    def _close_when_idle(self) -> None:
        self.server.task_dispatcher.shutdown(timeout=STREAM_END_SECONDS)
        self.server.trigger.pull_trigger(self.server.trigger.close)  # the loop then has nothing left and ends


@contextmanager
def served_controller(config: dict[str, Any], token: str | None = None) -> Iterator[ServedController]:
    """Serve a controller until the block ends."""
    controller = ServedController(config, token)
    try:
        yield controller
    finally:
        controller.stop()
