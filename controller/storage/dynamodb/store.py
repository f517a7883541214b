"""The whole store interface on the approvals table, put together from its parts, and the backend that opens it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controller.core.errors import StoreUnavailable
from controller.storage.dynamodb.audit import Audit
from controller.storage.dynamodb.followups import FollowUps
from controller.storage.dynamodb.items import wire
from controller.storage.dynamodb.leases import Leases
from controller.storage.dynamodb.notifications import Notifications
from controller.storage.dynamodb.queries import Queries
from controller.storage.dynamodb.table import Head, Health
from controller.storage.dynamodb.users import Users
from controller.storage.records import now

SCHEMA_VERSION = 1  # the item layout of docs/shared-store.md


class DynamoDbStore(Queries, FollowUps, Notifications, Users, Audit, Leases):
    """The store interface on one table; every write is committed when it returns."""

    def close(self) -> None:
        """Nothing to release: the client is the backend's."""

    def probe(self) -> None:
        try:
            self.dynamodb.put_item(TableName=self.table, Item=wire({"pk": "health", "sk": "probe", "at": now()}))
        except (BotoCoreError, ClientError) as error:
            self.health.failure = f"the approvals table {self.table} takes no write: {error}"
            raise StoreUnavailable(self.health.failure) from error
        self.health.failure = None

    def check_writable(self) -> None:
        if self.health.failure is not None:
            self.probe()

    def failure(self) -> str | None:
        return self.health.failure


class DynamoDbBackend:
    """The approvals table: its layout is fixed by stack.json, so migrating only checks that it is there."""

    shared = True  # any number of controllers: each round of background work takes a lease first

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.health, self.head = Health(), Head()

    def migrate(self) -> int:
        self.dynamodb.describe_table(TableName=self.table)
        return SCHEMA_VERSION

    def open(self) -> DynamoDbStore:
        return DynamoDbStore(self.dynamodb, self.table, self.health, self.head)
