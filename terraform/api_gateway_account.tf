# REST API logging (access and execution logs alike) needs the region-wide API Gateway
# account setting "CloudWatch log role ARN". It is one setting per account and region:
# setting it here replaces any role set before, and destroying the stack leaves it
# pointing at a deleted role. Set manage_api_gateway_account = false when the account
# already has a role that can write to this stack's log groups.

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy.api_gateway_cloudwatch]
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${local.names.api}-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
}

resource "aws_iam_role_policy" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name   = "write-api-logs"
  role   = aws_iam_role.api_gateway_cloudwatch[0].id
  policy = data.aws_iam_policy_document.api_gateway_cloudwatch.json
}

# Scoped to this stack's two API log groups, unlike the AWS managed policy
# AmazonAPIGatewayPushToCloudWatchLogs, which may write to any log group.
data "aws_iam_policy_document" "api_gateway_cloudwatch" {
  statement {
    sid       = "UseApiLogGroups"
    actions   = ["logs:CreateLogGroup", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.api_access.arn, aws_cloudwatch_log_group.api_execution.arn]
  }

  statement {
    sid     = "WriteApiLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${aws_cloudwatch_log_group.api_access.arn}:log-stream:*",
      "${aws_cloudwatch_log_group.api_execution.arn}:log-stream:*",
    ]
  }

  # DescribeLogGroups has no resource-level permissions: AWS requires "*".
  statement {
    sid       = "FindLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }
}
