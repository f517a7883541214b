"""The one place boto3 clients are made, so the endpoint, region and retry policy apply everywhere."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from flask import Flask, current_app

from controller.core.metrics import Metrics


def make_clients(config: dict[str, Any], metrics: Metrics) -> dict[str, Any]:
    """Return {"sqs": client, "stepfunctions": client} for the configured stack, each call counted in metrics."""
    session_args: dict[str, Any] = {"region_name": config.get("AWS_REGION")}
    if config.get("CONFIG_SOURCE") == "emulator":
        # the emulator accepts any credentials; real ones must never be sent to it
        session_args.update(aws_access_key_id="emulator", aws_secret_access_key="emulator")
    session = boto3.session.Session(**session_args)
    client_config = Config(
        retries={"mode": "standard", "total_max_attempts": config["AWS_MAX_ATTEMPTS"]},
        connect_timeout=5,
        read_timeout=30,
    )
    clients = {
        service: session.client(service, endpoint_url=config.get("AWS_ENDPOINT_URL"), config=client_config)
        for service in ("sqs", "stepfunctions")
    }
    for service, made in clients.items():
        metrics.watch_aws(service, made.meta.events)
    return clients


def clients_of(app: Flask) -> dict[str, Any]:
    """Return the app's clients, by service name."""
    clients: dict[str, Any] = app.extensions["aws"]
    return clients


def client(service: str) -> Any:
    """Return the current app's client for "sqs" or "stepfunctions"."""
    return clients_of(current_app)[service]
