"""Fixtures: one emulator process for the session; per test, a fresh queue, state machine and controller."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from controller import create_app
from controller.core.config import DEFAULTS
from controller.service.stores import backend_for
from controller.storage.context import backend_of
from controller.storage.interface import Backend
from controller.storage.sqlite import SqliteBackend
from harness import browser as chromium
from harness.controllers import ServedController, add_user_to, controller_config, offline_config
from harness.emulator import Emulator, running_emulator
from harness.events import EventListener
from harness.processes import ControllerProcess
from harness.stacks import Stack, make_stack
from harness.tables import dynamodb_settings
from harness.waiting import wait_for
from harness.webhooks import WebhookReceiver


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """Build apps with no stack (AWS unreachable) on one fresh database, migrated as a start leaves it."""

    def make(**overrides: Any) -> Flask:
        app = create_app(offline_config(tmp_path / "approvals.sqlite3", **overrides))
        backend_of(app).migrate()
        return app

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture
def stack(emulator: Emulator) -> Stack:
    return make_stack(emulator)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, for the tests of the approver's page; they skip when it is missing."""
    reason = chromium.missing()
    if reason:
        pytest.skip(reason)
    with chromium.chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page, 1280 px wide, that waits up to WAIT_MS for what a test expects."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(chromium.WAIT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def listen() -> Iterator[Callable[..., EventListener]]:
    """Open /events streams (url, last_event_id=None, headers=None) that stop recording after the test."""
    opened: list[EventListener] = []

    def open_stream(url: str, last_event_id: str | None = None, headers: dict[str, str] | None = None) -> EventListener:
        opened.append(EventListener(url, last_event_id, headers))
        return opened[-1]

    yield open_stream
    for listener in opened:
        listener.close()


SIGN_IN_MODES = ["open", "signed-in"]
STORES = ["sqlite", "dynamodb"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Under the both_sign_in_modes marker, run each test that reaches a controller in local mode and signed in;
    under both_stores, on an SQLite file and on a DynamoDB table."""
    if "auth_mode" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_sign_in_modes"):
        metafunc.parametrize("auth_mode", SIGN_IN_MODES, scope="module")
    if "store_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store_kind", STORES)


@pytest.fixture
def store_kind() -> str:
    """Which store the controllers of a test use: "sqlite" unless the test is marked both_stores."""
    return "sqlite"


@dataclass
class StoreUnderTest:
    """The store the controllers of one test share: their config for it, and its users."""

    settings: dict[str, Any]
    backend: Backend

    def add_user(self, name: str, role: str = "approver", groups: tuple[str, ...] = ()) -> str:
        """Add a user with the test password; return their API token."""
        return add_user_to(self.backend, name, role, groups=groups)


@pytest.fixture
def store_under_test(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreUnderTest:
    """The test's SQLite file (approvals.sqlite3 in tmp_path), or a fresh approvals table of the emulator."""
    if store_kind == "sqlite":
        return StoreUnderTest({}, SqliteBackend(str(tmp_path / "approvals.sqlite3")))
    emulator: Emulator = request.getfixturevalue("emulator")
    settings = dynamodb_settings(emulator)
    where = {"AWS_ENDPOINT_URL": emulator.outputs["aws_endpoint_url"], "AWS_REGION": emulator.outputs["aws_region"]}
    return StoreUnderTest(settings, backend_for({**DEFAULTS, **settings, **where, "CONFIG_SOURCE": "emulator"}))


@pytest.fixture(scope="session")
def auth_mode() -> str:
    """How the controllers of a test are reached: "open" (local mode) or "signed-in" (an approver's token).

    Local mode unless the test is marked both_sign_in_modes, which runs it either way.
    """
    return "open"


@pytest.fixture(scope="module")
def sign_in(auth_mode: str) -> Callable[..., str | None]:
    """Return what a client presents to a controller on a database: nothing in local mode; signed in, a token.

    Signed in, each database gets one approver, Grace, the first time it is asked for; her token after.
    """
    tokens: dict[str, str] = {}

    def token_for(database: Path | str, backend: Backend | None = None) -> str | None:
        if auth_mode == "open":
            return None
        store = backend or SqliteBackend(str(database))
        if store.describe() not in tokens:
            tokens[store.describe()] = add_user_to(store, "Grace")
        return tokens[store.describe()]

    return token_for


@pytest.fixture
def controller_factory(
    tmp_path: Path, sign_in: Callable[..., str | None], store_under_test: StoreUnderTest
) -> Iterator[Callable[..., ServedController]]:
    """Start controllers for a stack in threads, on the test's store unless DATABASE says otherwise; stop them after."""
    started: list[ServedController] = []

    def start(stack: Stack, **overrides: Any) -> ServedController:
        if stack.dead_letter_queue_url:
            overrides = {"DEAD_LETTER_QUEUE_URL": stack.dead_letter_queue_url, **overrides}
        settings = {**store_under_test.settings, **overrides}
        config = controller_config(stack.emulator, stack.queue_url, tmp_path / "approvals.sqlite3", **settings)
        shared = store_under_test.backend if config.get("STORE") == "dynamodb" else None
        started.append(ServedController(config, sign_in(config["DATABASE"], shared)))
        return started[-1]

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def controller_process(
    tmp_path: Path, sign_in: Callable[[Path | str], str | None]
) -> Iterator[Callable[..., ControllerProcess]]:
    """Start `python -m controller` processes for a stack, ready to serve, each with its own log; kill them after.

    crash_at names a botocore event at which the process dies without clean-up; settings are CONTROLLER_*.
    """
    started: list[ControllerProcess] = []

    def start(stack: Stack, database: Path, crash_at: str | None = None, **settings: str) -> ControllerProcess:
        log = tmp_path / f"controller-{len(started)}.log"
        process = ControllerProcess(
            stack.emulator, stack.queue_url, database, log, sign_in(database), crash_at, **settings
        )
        started.append(process)
        process.start()
        process.wait_until_ready()
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def controller(stack: Stack, controller_factory: Callable[..., ServedController]) -> ServedController:
    return controller_factory(stack)


@dataclass
class ExpiredRequest:
    stack: Stack
    controller: ServedController
    name: str
    execution: dict[str, Any]


@pytest.fixture
def expired_request(emulator: Emulator, controller_factory: Callable[..., ServedController]) -> ExpiredRequest:
    """A request the controller stored, whose 2-second approval timeout then ran out."""
    stack = make_stack(emulator, approval_timeout_seconds=2)
    controller = controller_factory(stack)
    name = stack.start()
    # stored in any state: a loaded machine may pull it only after its 2 s, when it is stored and expired at once
    # and never listed as pending
    wait_for(lambda: controller.get(f"/approvals/{name}").ok, 30, "the request to be stored")
    return ExpiredRequest(stack, controller, name, stack.wait_until_finished(name))


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A receiver of the controller's webhook notifications, on a port of its own; stopped after the test."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(autouse=True)
def _no_real_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture
def fixed_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in this process (mock_aws) with the emulator's fixes, as `python -m emulator` runs it; as shipped after."""
    from moto import mock_aws  # only the tests that patch moto pay for importing it
    from moto.core import DEFAULT_ACCOUNT_ID

    from emulator import patches

    # moto's own account, named: else each request looks for its access key in an IAM backend per partition, and
    # under the fixes each of those parses AWS's managed policies when it is made
    monkeypatch.setenv("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    with mock_aws():
        patches.apply()
        yield
        # undone first: mock_aws then rebuilds every backend it resets, and under the fixes each IAM backend
        # parses AWS's managed policies again (about a second per test)
        patches.undo()


@pytest.fixture(autouse=True)
def _moto_as_shipped_after_each_test() -> Iterator[None]:
    yield
    patches = sys.modules.get("emulator.patches")
    assert patches is None or not patches.applied(), "a test left the emulator's fixes installed in moto"
