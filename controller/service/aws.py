"""The one place boto3 clients are made, so the endpoint, region and retry policy apply everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
from botocore.config import Config
from flask import Flask, current_app

from controller.core.config import ConfigurationError
from controller.core.metrics import Metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient


class Clients(TypedDict):
    """The controller's AWS clients, by service name (a client is thread-safe: every thread shares them)."""

    sqs: SQSClient
    stepfunctions: SFNClient


def make_clients(config: Mapping[str, Any], metrics: Metrics) -> Clients:
    """Return {"sqs": client, "stepfunctions": client} for the configured stack, each call counted in metrics."""
    session_args: dict[str, str | None] = {"region_name": config.get("AWS_REGION")}
    if config.get("CONFIG_SOURCE") == "emulator":
        # the emulator accepts any credentials; real ones must never be sent to it
        session_args.update(aws_access_key_id="emulator", aws_secret_access_key="emulator")
    session = boto3.session.Session(**session_args)
    if session.region_name is None:  # boto3 would raise NoRegionError, with a traceback, at the first client
        raise ConfigurationError("No AWS region is configured: set AWS_REGION (the queue URL names none).")
    client_config = Config(
        retries={"mode": "standard", "total_max_attempts": config["AWS_MAX_ATTEMPTS"]},
        connect_timeout=5,
        read_timeout=30,
    )
    endpoint = config.get("AWS_ENDPOINT_URL")
    clients = Clients(
        sqs=session.client("sqs", endpoint_url=endpoint, config=client_config),
        stepfunctions=session.client("stepfunctions", endpoint_url=endpoint, config=client_config),
    )
    metrics.watch_aws("sqs", clients["sqs"].meta.events)
    metrics.watch_aws("stepfunctions", clients["stepfunctions"].meta.events)
    return clients


def clients_of(app: Flask) -> Clients:
    """Return the app's clients."""
    clients: Clients = app.extensions["aws"]
    return clients


def stepfunctions() -> SFNClient:
    """Return the current app's Step Functions client."""
    return clients_of(current_app)["stepfunctions"]
