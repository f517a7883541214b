resource "aws_sfn_state_machine" "this" {
  name     = local.names.state_machine
  role_arn = aws_iam_role.state_machine.arn

  # Exactly the placeholders of the template; tests/terraform checks both sides agree.
  definition = templatefile(var.sfn_state_machine_definition, {
    order_function_arn       = aws_lambda_function.this.arn
    approval_queue_url       = aws_sqs_queue.approval.url
    approval_timeout_seconds = var.approval_timeout_seconds
    partition                = local.partition
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = false
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.state_machine]
}

# The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy that Step
# Functions writes from growing past its size limit.
resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${local.names.state_machine}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "state_machine" {
  name               = "${local.names.state_machine}-role"
  assume_role_policy = data.aws_iam_policy_document.state_machine_assume.json
}

data "aws_iam_policy_document" "state_machine_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    # Confused-deputy guard: only Step Functions acting for this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "invoke-order-function-and-request-approval"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeOrderFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn, "${aws_lambda_function.this.arn}:*"]
  }

  statement {
    sid       = "SendApprovalRequest"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.approval.arn]
  }

  # CloudWatch Logs log delivery for Step Functions: these actions have no
  # resource-level permissions, so AWS requires "*" (Step Functions developer guide,
  # "IAM policies for logging to CloudWatch Logs").
  statement {
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:UpdateLogDelivery",
    ]
    resources = ["*"]
  }

  # X-Ray actions have no resource-level permissions: AWS requires "*".
  statement {
    sid = "WriteTraces"
    actions = [
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "xray:PutTelemetryRecords",
      "xray:PutTraceSegments",
    ]
    resources = ["*"]
  }
}
