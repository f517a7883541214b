"""Creates, in the emulator, the approvals table terraform/dynamodb.tf describes, from stack.json."""

from __future__ import annotations

from typing import Any

from stack.definition import resource_name


def approvals_table_keys(table: dict[str, Any]) -> list[str]:
    """Every key attribute of the table and its indexes, each once, as Terraform lists them."""
    keys = [table["hash_key"], table["range_key"]]
    keys += [key for index in table["indexes"].values() for key in (index["hash_key"], index["range_key"])]
    return list(dict.fromkeys(keys))


def provision_approvals_table(dynamodb: Any, kms: Any, stack: dict[str, Any], prefix: str) -> str:
    """Create the key and the table (on demand, PITR, TTL, SSE with that key, deletion protection); return
    the table's name."""
    name = resource_name(stack, "approvals_table", prefix)
    key = kms.create_key(Description=f"Encrypts {name}, which holds task tokens.")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key["KeyId"])
    create_approvals_table(dynamodb, stack["approvals_table"], name, key["Arn"])
    return name


def create_approvals_table(dynamodb: Any, table: dict[str, Any], name: str, key_arn: str | None = None) -> None:
    """Create a table of stack.json's approvals_table layout, encrypted with key_arn or DynamoDB's own key."""
    encryption = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn} if key_arn else {"Enabled": False}
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": table["hash_key"], "KeyType": "HASH"},
            {"AttributeName": table["range_key"], "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in approvals_table_keys(table)],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index_name,
                "KeySchema": [
                    {"AttributeName": index["hash_key"], "KeyType": "HASH"},
                    {"AttributeName": index["range_key"], "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index_name, index in table["indexes"].items()
        ],
        SSESpecification=encryption,
        DeletionProtectionEnabled=True,
        Tags=[{"Key": "Holds", "Value": "approval requests and their task tokens"}],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table["ttl_attribute"]}
    )
    dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
