"""The one place boto3 clients are made, so the endpoint, region, timeouts and retry policy apply everywhere.

An AWS endpoint that hangs (a black hole, not a refusal) holds whoever calls it for up to
AWS_MAX_ATTEMPTS times (connect + read timeout). So a request thread takes one of a bounded number
of AWS slots before it calls; when none is free within a moment, it answers without AWS (stored
requests and a warning, or 503 for a decision) and the threads left over keep answering /health,
sign-in and the pages that need no AWS.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypedDict

import botocore.session
from botocore.config import Config
from botocore.loaders import Loader, create_loader
from flask import Flask, current_app

from controller.core.config import ConfigurationError
from controller.core.errors import AwsUnavailable
from controller.core.metrics import Metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

SLOT_WAIT_SECONDS = 0.1  # how long a request waits for an AWS slot before it answers without AWS
LONG_POLL_MARGIN_SECONDS = 5  # the background's long poll is answered at most this long after its wait ends


class Clients(TypedDict):
    """The controller's AWS clients, by service name (a client is thread-safe: every thread shares them).

    The long-poll client is the background pull's only: its read timeout covers the poll's wait.
    """

    sqs: SQSClient
    stepfunctions: SFNClient
    sqs_long_poll: SQSClient


def aws_slots(config: Mapping[str, Any]) -> int:
    """Return how many request threads may wait on AWS at once: half of them, so the rest always answer."""
    threads: int = config["THREADS"]
    return max(1, threads // 2)


def _client_config(config: Mapping[str, Any], read_timeout: float) -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": config["AWS_MAX_ATTEMPTS"]},
        connect_timeout=config["AWS_CONNECT_TIMEOUT_SECONDS"],
        read_timeout=read_timeout,
    )


@functools.cache
def _service_models(data_path: str | None) -> Loader:
    """Return the reader of botocore's service models, one per process.

    Each botocore session otherwise parses the models and endpoints again (a tenth of a second per app): the
    apps a process makes (tests, the benchmark) share what was read. It holds only botocore's own data files.
    """
    return create_loader(data_path)


def _session(config: Mapping[str, Any]) -> tuple[botocore.session.Session, dict[str, str | None]]:
    """Return a botocore session of its own and the arguments every client of the configured stack is made with."""
    client_args: dict[str, str | None] = {
        "region_name": config.get("AWS_REGION"),
        "endpoint_url": config.get("AWS_ENDPOINT_URL"),
    }
    if config.get("CONFIG_SOURCE") == "emulator":
        # the emulator accepts any credentials; real ones must never be sent to it
        client_args.update(aws_access_key_id="emulator", aws_secret_access_key="emulator")
    session = botocore.session.get_session()  # each app its own: credentials and settings are not shared
    session.register_component("data_loader", _service_models(session.get_config_variable("data_path")))
    if client_args["region_name"] is None and session.get_config_variable("region") is None:
        # botocore would raise NoRegionError, with a traceback, at the first client
        raise ConfigurationError("No AWS region is configured: set AWS_REGION (the queue URL names none).")
    return session, client_args


def make_clients(config: Mapping[str, Any], metrics: Metrics) -> Clients:
    """Return the clients for the configured stack, each call counted in metrics (no call is made)."""
    session, client_args = _session(config)
    short = _client_config(config, config["AWS_READ_TIMEOUT_SECONDS"])
    long_poll = _client_config(
        config, config["AWS_READ_TIMEOUT_SECONDS"] + config["PULL_WAIT_SECONDS"] + LONG_POLL_MARGIN_SECONDS
    )
    clients = Clients(
        sqs=session.create_client("sqs", config=short, **client_args),
        stepfunctions=session.create_client("stepfunctions", config=short, **client_args),
        sqs_long_poll=session.create_client("sqs", config=long_poll, **client_args),
    )
    metrics.watch_aws("sqs", clients["sqs"].meta.events)
    metrics.watch_aws("stepfunctions", clients["stepfunctions"].meta.events)
    metrics.watch_aws("sqs", clients["sqs_long_poll"].meta.events)  # the long poll is SQS too
    return clients


def make_dynamodb(config: Mapping[str, Any], metrics: Metrics | None = None) -> DynamoDBClient:
    """Return the client of the DynamoDB store's table, its calls counted in metrics if given (no call is made)."""
    session, client_args = _session(config)
    client: DynamoDBClient = session.create_client(
        "dynamodb", config=_client_config(config, config["AWS_READ_TIMEOUT_SECONDS"]), **client_args
    )
    if metrics is not None:
        metrics.watch_aws("dynamodb", client.meta.events)
    return client


def clients_of(app: Flask) -> Clients:
    """Return the app's clients."""
    clients: Clients = app.extensions["aws"]
    return clients


def stepfunctions() -> SFNClient:
    """Return the current app's Step Functions client."""
    return clients_of(current_app)["stepfunctions"]


@contextmanager
def slot() -> Iterator[None]:
    """Hold one of the request threads' AWS slots for the block; AwsUnavailable when none frees up soon."""
    slots: threading.BoundedSemaphore = current_app.extensions["aws_slots"]
    if not slots.acquire(timeout=SLOT_WAIT_SECONDS):
        raise AwsUnavailable(
            f"AWS is slow to answer: {aws_slots(current_app.config)} calls to it are already waiting;"
            " nothing was sent, try again shortly."
        )
    try:
        yield
    finally:
        slots.release()


def init_app(app: Flask) -> None:
    """Make the app's clients and its AWS slots (no call is made)."""
    app.extensions["aws"] = make_clients(app.config, app.extensions["metrics"])
    app.extensions["aws_slots"] = threading.BoundedSemaphore(aws_slots(app.config))
