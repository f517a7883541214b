# The approvals table: the controllers' shared store (CONTROLLER_STORE=dynamodb). It holds every
# pending request's task token once its SQS message is deleted, so it keeps point-in-time recovery,
# a key of its own and, unless var.approvals_table_deletion_protection is lifted, refuses deletion.
# Its keys and indexes come from stack.json, which the emulator and the controller read too.

locals {
  approvals_table = local.stack.approvals_table

  # Every key attribute of the table and its indexes is a string.
  approvals_table_keys = distinct(concat(
    [local.approvals_table.hash_key, local.approvals_table.range_key],
    flatten([for index in values(local.approvals_table.indexes) : [index.hash_key, index.range_key]]),
  ))
}

resource "aws_dynamodb_table" "this" {
  name                        = local.names.approvals_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = local.approvals_table.hash_key
  range_key                   = local.approvals_table.range_key
  deletion_protection_enabled = var.approvals_table_deletion_protection

  dynamic "attribute" {
    for_each = local.approvals_table_keys

    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.approvals_table.indexes

    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  # Expired rows are also filtered out on every read: TTL deletes them only eventually.
  ttl {
    attribute_name = local.approvals_table.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = {
    Holds = "approval requests and their task tokens"
  }
}

resource "aws_kms_key" "this" {
  description             = "Encrypts ${local.names.approvals_table}, which holds task tokens."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.approvals_key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.names.approvals_table}"
  target_key_id = aws_kms_key.this.key_id
}

# In a key policy, resource "*" means this key and no other.
data "aws_iam_policy_document" "approvals_key" {
  # checkov:skip=CKV_AWS_109:A key policy's "*" is the key itself; the account keeps administering it.
  # checkov:skip=CKV_AWS_111:A key policy's "*" is the key itself; the account keeps administering it.
  # checkov:skip=CKV_AWS_356:A key policy's "*" is the key itself; the account keeps administering it.
  statement {
    sid = "AccountAdministersTheKey"
    actions = [
      "kms:CancelKeyDeletion", "kms:Create*", "kms:Decrypt", "kms:Delete*", "kms:Describe*", "kms:Disable*",
      "kms:Enable*", "kms:Encrypt", "kms:GenerateDataKey*", "kms:Get*", "kms:List*", "kms:Put*",
      "kms:ReEncrypt*", "kms:Revoke*", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
      "kms:Update*",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(local.controller_principals) > 0 ? [local.controller_principals] : []

    content {
      sid       = "ControllerDecryptsThroughDynamoDB"
      actions   = ["kms:Decrypt"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = statement.value
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }
}
