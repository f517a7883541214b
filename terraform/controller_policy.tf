# What the approval controller may do: read and settle approval requests, take back the
# ones the dead-letter queue holds (and count what else it holds), answer task tokens and
# look up the executions of this state machine. Output as JSON for any principal, and
# attached to controller_role_name / controller_user_name when set.

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
