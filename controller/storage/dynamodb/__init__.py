"""The DynamoDB store: the store interface on the approvals table that any number of controllers share.

The items and indexes are those of docs/shared-store.md; one module per concern, put together in store.py.
"""

from controller.storage.dynamodb.store import DynamoDbBackend, DynamoDbStore

__all__ = ["DynamoDbBackend", "DynamoDbStore"]
