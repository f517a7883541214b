# REST API logging (access and execution logs alike) needs the API Gateway account
# setting "CloudWatch log role ARN". It is ONE setting per AWS account and region,
# shared by every REST API there:
# - applying this stack replaces any role set before;
# - when the role is set, API Gateway checks it by creating and writing the log group
#   /aws/apigateway/welcome, so the role must be able to write any API Gateway log group,
#   not just this stack's (a narrower policy fails with "The role ARN does not have
#   required permissions configured" and the provider retries until it times out);
# - destroying the stack resets the setting to no role (hashicorp/aws >= 6.0, PR #42226;
#   5.x left it naming the deleted role), so other REST APIs of the account and region stop
#   logging until a role is set again.
# Set manage_api_gateway_account = false when the account and region already have a role.

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${local.names.api}-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
}

# The AWS managed policy, because the role serves every REST API of the account and region
# (and API Gateway's /aws/apigateway/welcome check), whose log group names this stack cannot know.
resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}
