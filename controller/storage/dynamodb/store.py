"""The whole store interface on the approvals table, put together from its parts, and the backend that opens it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from controller.core.config import ConfigurationError
from controller.core.errors import StoreUnavailable
from controller.storage.dynamodb import failures
from controller.storage.dynamodb.audit import Audit
from controller.storage.dynamodb.followups import FollowUps
from controller.storage.dynamodb.items import BY_CHECK, BY_LIST, wire
from controller.storage.dynamodb.leases import Leases
from controller.storage.dynamodb.notifications import Notifications
from controller.storage.dynamodb.numbering import Heads
from controller.storage.dynamodb.queries import Queries
from controller.storage.dynamodb.seen import SeenRequests
from controller.storage.dynamodb.users import Users
from controller.storage.records import Health, now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger("controller.store")
SCHEMA_VERSION = 1  # the item layout of docs/shared-store.md


class DynamoDbStore(Queries, FollowUps, Notifications, Users, Audit, Leases):
    """The store interface on one table; every write is committed when it returns."""

    def close(self) -> None:
        """Nothing to release: the client is the backend's."""

    def probe(self) -> None:
        try:
            with failures.trying_again():
                self.dynamodb.put_item(TableName=self.table, Item=wire({"pk": "health", "sk": "probe", "at": now()}))
        except StoreUnavailable:  # noted in health where the client raised it
            raise
        except (BotoCoreError, ClientError) as error:
            self.health.failure, self.health.since = f"the approvals table {self.table} takes no write: {error}", now()
            raise StoreUnavailable(self.health.failure) from error
        if self.health.failure is not None:
            log.warning("the approvals table %s takes writes again; it failed from %s", self.table, self.health.since)
        self.health.failure = self.health.since = None

    def check_writable(self) -> None:
        if self.health.failure is not None:
            self.probe()

    def failure(self) -> str | None:
        return self.health.failure


class TableUnusable(ConfigurationError):
    """The approvals table cannot be reached, or is not of the layout stack.json gives it."""


class SharedServing:
    """What a controller holds while it serves a table: nothing, since any number of them may serve one."""

    def close(self) -> None:
        """Nothing to release."""


class DynamoDbBackend:
    """The approvals table: its layout is fixed by stack.json, so migrating only checks that it is there."""

    shared = True  # any number of controllers: each round of background work takes a lease first

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.state, self.heads, self.seen = Health(), Heads(), SeenRequests()
        failures.watch(dynamodb, table, self.state)

    def migrate(self) -> int:
        try:
            described = self.dynamodb.describe_table(TableName=self.table)["Table"]
        except StoreUnavailable as error:
            raise TableUnusable(
                f"The approvals table {self.table} cannot be used: {error.details['reason']}. Check"
                " CONTROLLER_DYNAMODB_TABLE, AWS_REGION and the controller's permissions (docs/shared-store.md)."
            ) from error
        except ClientError as error:  # a table name DynamoDB refuses, an endpoint that is not DynamoDB
            raise TableUnusable(
                f"The approvals table {self.table} cannot be used: {error}. Check CONTROLLER_DYNAMODB_TABLE and"
                " AWS_ENDPOINT_URL (docs/shared-store.md)."
            ) from error
        keys = {key["AttributeName"]: key["KeyType"] for key in described.get("KeySchema", [])}
        indexes = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
        if keys != {"pk": "HASH", "sk": "RANGE"} or not {BY_LIST, BY_CHECK} <= indexes:
            raise TableUnusable(
                f"The table {self.table} is not an approvals table: it needs the key (pk, sk) and the indexes"
                f" {BY_LIST} and {BY_CHECK} of stack.json; create it with terraform/ or the emulator."
            )
        return SCHEMA_VERSION

    def open(self) -> DynamoDbStore:
        return DynamoDbStore(self.dynamodb, self.table, self.state, self.heads, self.seen)

    def health(self) -> Health:
        return self.state

    def claim_serving(self) -> SharedServing:
        return SharedServing()

    def describe(self) -> str:
        return f"the DynamoDB table {self.table}"
