"""Which store the controller uses, from its configuration: an SQLite file, or the shared DynamoDB table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError

from controller.core.config import ConfigurationError
from controller.core.metrics import Metrics
from controller.service.aws import make_dynamodb
from controller.storage.dynamodb import DynamoDbBackend
from controller.storage.interface import Backend
from controller.storage.sqlite import SqliteBackend


def backend_for(config: Mapping[str, Any], metrics: Metrics | None = None) -> Backend:
    """Return the configured backend, its AWS calls counted in metrics if given. Opening it does no I/O yet."""
    if config["STORE"] == "sqlite":
        return SqliteBackend(config["DATABASE"])
    if not config.get("DYNAMODB_TABLE"):
        raise ConfigurationError("CONTROLLER_STORE=dynamodb needs a table: set CONTROLLER_DYNAMODB_TABLE.")
    try:
        client = make_dynamodb(config, metrics)
    except BotoCoreError as error:  # a region or endpoint botocore cannot use
        raise ConfigurationError(f"The DynamoDB store cannot be reached as configured: {error}.") from error
    return DynamoDbBackend(client, config["DYNAMODB_TABLE"])
