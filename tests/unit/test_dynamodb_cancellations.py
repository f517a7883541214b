"""A cancelled transaction on the table: tried again only when that can help, from DynamoDB's own answers
(botocore's Stubber answers in its place, as DynamoDB would; the store and its hooks run for real)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from controller.core.errors import StoreUnavailable
from controller.storage.dynamodb import DynamoDbBackend

PART = {"Put": {"TableName": "approvals", "Item": {"pk": {"S": "x"}, "sk": {"S": "y"}}}}


def _cancelled(stub: Stubber, *codes: str) -> None:
    stub.add_client_error(
        "transact_write_items",
        "TransactionCanceledException",
        "Transaction cancelled",
        400,
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


@pytest.fixture
def backend() -> DynamoDbBackend:
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    return DynamoDbBackend(client, "approvals")


def test_a_throttled_transaction_is_store_unavailable_at_once_not_tried_again(backend):
    with Stubber(backend.dynamodb) as stub:
        _cancelled(stub, "None", "ThrottlingError")
        with pytest.raises(StoreUnavailable, match="throttled"):
            backend.open()._transact(PART, PART)
        stub.assert_no_pending_responses()
    assert backend.health().failure is None  # load, not the table out of reach: no other call is held back


def test_a_transaction_refused_for_its_content_fails_at_once(backend):
    with Stubber(backend.dynamodb) as stub:
        _cancelled(stub, "ValidationError")
        with pytest.raises(ClientError, match="TransactionCanceledException"):
            backend.open()._transact(PART)


def test_a_collision_is_tried_again_and_then_goes_through(backend):
    with Stubber(backend.dynamodb) as stub:
        _cancelled(stub, "TransactionConflict")
        _cancelled(stub, "None", "TransactionConflict")
        stub.add_response("transact_write_items", {})
        assert backend.open()._transact(PART, PART) is None
        stub.assert_no_pending_responses()
