# What the approval controller may do: read and settle approval requests, take back the
# ones the dead-letter queue holds (and count what else it holds), answer task tokens,
# look up the executions of this state machine and keep requests in the approvals table
# (CONTROLLER_STORE=dynamodb). Output as JSON for any principal, and attached to
# controller_role_name / controller_user_name when set.

locals {
  controller_principals = concat(
    var.controller_role_name == null ? [] : ["arn:${local.partition}:iam::${local.account_id}:role/${var.controller_role_name}"],
    var.controller_user_name == null ? [] : ["arn:${local.partition}:iam::${local.account_id}:user/${var.controller_user_name}"],
  )
}

data "aws_iam_policy_document" "controller" {
  statement {
    sid       = "ReadAndSettleApprovalRequests"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [aws_sqs_queue.approval.arn]
  }

  statement {
    sid       = "RecoverDeadLetteredApprovalRequests"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  # SendTaskSuccess and SendTaskFailure have no resource-level permissions (the task
  # token names the task, and the Service Authorization Reference lists no resource
  # type for them), so AWS requires "*".
  statement {
    sid       = "AnswerTaskTokens"
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeOrderApprovalExecutions"
    actions   = ["states:DescribeExecution"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${aws_sfn_state_machine.this.name}:*"]
  }

  # At start-up the controller asks whether the state machine has any execution at all, to close in
  # bulk the requests a restarted emulator forgot (controller/approval/restart.py).
  statement {
    sid       = "ListOrderApprovalExecutions"
    actions   = ["states:ListExecutions"]
    resources = [aws_sfn_state_machine.this.arn]
  }

  # What controller/storage/dynamodb/ calls (TransactWriteItems is authorised by its parts; BatchGetItem
  # is the copy from SQLite's, run with the controllers' settings); never Scan: every read is a key
  # lookup or a query.
  statement {
    sid = "KeepRequestsInTheApprovalsTable"
    actions = [
      "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
      "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "ListRequestsThroughTheTablesIndexes"
    actions   = ["dynamodb:Query"]
    resources = [for name in keys(local.approvals_table.indexes) : "${aws_dynamodb_table.this.arn}/index/${name}"]
  }

  statement {
    sid       = "DecryptTheApprovalsTable"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "controller" {
  count = var.controller_role_name != null || var.controller_user_name != null ? 1 : 0

  name        = "${var.name_prefix}-controller"
  description = "Lets the approval controller answer approval requests of ${local.names.state_machine}."
  policy      = data.aws_iam_policy_document.controller.json
}

resource "aws_iam_role_policy_attachment" "controller" {
  count = var.controller_role_name != null ? 1 : 0

  role       = var.controller_role_name
  policy_arn = aws_iam_policy.controller[0].arn
}

resource "aws_iam_user_policy_attachment" "controller" {
  count = var.controller_user_name != null ? 1 : 0

  user       = var.controller_user_name
  policy_arn = aws_iam_policy.controller[0].arn
}
