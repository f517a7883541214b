resource "aws_lambda_function" "this" {
  function_name    = local.names.order_function
  description      = "Processes an order before it is sent for approval."
  filename         = var.lambda_function_payload
  source_code_hash = filebase64sha256(var.lambda_function_payload)
  role             = aws_iam_role.order_function.arn
  handler          = local.stack.order_function.handler
  runtime          = local.stack.order_function.runtime
  timeout          = local.stack.order_function.timeout_seconds
  memory_size      = local.stack.order_function.memory_mb

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.order_function.name
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.order_function]
}

resource "aws_cloudwatch_log_group" "order_function" {
  name              = "/aws/lambda/${local.names.order_function}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "order_function" {
  name               = "${local.names.order_function}-role"
  assume_role_policy = data.aws_iam_policy_document.order_function_assume.json
}

data "aws_iam_policy_document" "order_function_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "order_function" {
  name   = "write-own-logs-and-traces"
  role   = aws_iam_role.order_function.id
  policy = data.aws_iam_policy_document.order_function.json
}

data "aws_iam_policy_document" "order_function" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.order_function.arn}:log-stream:*"]
  }

  # X-Ray trace actions have no resource-level permissions: AWS requires "*".
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}
