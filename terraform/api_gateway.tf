# POST /start/workflow: validates the body against lambda/order.schema.json, then starts
# an execution of this state machine only. The caller never chooses the state machine.

locals {
  # Integration response per method response: null is the default (success) mapping;
  # the patterns match the status code Step Functions answers with, so a bad request
  # stays a 4xx instead of becoming a 500.
  api_response_patterns = {
    "200" = null
    "400" = "4\\d{2}"
    "500" = "5\\d{2}"
  }
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.names.api
  description = "Starts the human approval workflow for an order."

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "start" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = local.api_path_parts[0]

  lifecycle {
    precondition {
      condition     = length(local.api_path_parts) == 2
      error_message = "The api.path in stack.json must have exactly two segments, like /start/workflow."
    }
  }
}

resource "aws_api_gateway_resource" "workflow" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.start.id
  path_part   = local.api_path_parts[1]
}

resource "aws_api_gateway_model" "order" {
  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = "Order"
  description  = "An order to be approved."
  content_type = "application/json"
  schema       = file("${path.module}/../lambda/order.schema.json")
}

resource "aws_api_gateway_request_validator" "this" {
  rest_api_id           = aws_api_gateway_rest_api.this.id
  name                  = "validate-body"
  validate_request_body = true
}

resource "aws_api_gateway_method" "start_workflow" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.workflow.id
  http_method          = "POST"
  authorization        = "NONE"
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.this.id

  request_models = {
    "application/json" = aws_api_gateway_model.order.name
  }
}

resource "aws_api_gateway_integration" "start_workflow" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.workflow.id
  http_method             = aws_api_gateway_method.start_workflow.http_method
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "arn:${local.partition}:apigateway:${local.region}:states:action/StartExecution"
  credentials             = aws_iam_role.api_gateway_integration.arn
  passthrough_behavior    = "NEVER"

  # The template (terraform/templates/, shared with the emulator) names the execution after
  # the extended request id and passes the body, escaped, as its input.
  request_templates = {
    "application/json" = templatefile("${path.module}/templates/start_execution.request.vtl", {
      state_machine_arn = aws_sfn_state_machine.this.arn
    })
  }
}

resource "aws_api_gateway_method_response" "start_workflow" {
  for_each = local.api_response_patterns

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.workflow.id
  http_method = aws_api_gateway_method.start_workflow.http_method
  status_code = each.key

  response_models = {
    "application/json" = "Empty"
  }
}

resource "aws_api_gateway_integration_response" "start_workflow" {
  for_each = local.api_response_patterns

  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = aws_api_gateway_resource.workflow.id
  http_method       = aws_api_gateway_method.start_workflow.http_method
  status_code       = aws_api_gateway_method_response.start_workflow[each.key].status_code
  selection_pattern = each.value

  # On success: the execution ARN, its name and its start date. Errors pass Step
  # Functions' own body through.
  response_templates = each.value == null ? {
    "application/json" = file("${path.module}/templates/start_execution.response.vtl")
  } : {}

  depends_on = [aws_api_gateway_integration.start_workflow]
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # Redeploy when a setting of the API changes: the values set above, never whole resources,
  # because a refresh turns unset lists and maps into empty ones and re-serialises the model's
  # schema, and a hash of those would redeploy on every apply. merge({}, ...) reads an unset
  # map and an empty one alike.
  triggers = {
    redeployment = sha1(jsonencode({
      path          = aws_api_gateway_resource.workflow.path
      order_schema  = filesha1("${path.module}/../lambda/order.schema.json")
      validate_body = aws_api_gateway_request_validator.this.validate_request_body
      method = [
        aws_api_gateway_method.start_workflow.authorization,
        aws_api_gateway_method.start_workflow.api_key_required,
        aws_api_gateway_method.start_workflow.request_validator_id,
        merge({}, aws_api_gateway_method.start_workflow.request_models),
      ]
      integration = [
        aws_api_gateway_integration.start_workflow.type,
        aws_api_gateway_integration.start_workflow.integration_http_method,
        aws_api_gateway_integration.start_workflow.uri,
        aws_api_gateway_integration.start_workflow.credentials,
        aws_api_gateway_integration.start_workflow.passthrough_behavior,
        merge({}, aws_api_gateway_integration.start_workflow.request_templates),
      ]
      response_models    = { for code, response in aws_api_gateway_method_response.start_workflow : code => merge({}, response.response_models) }
      response_patterns  = local.api_response_patterns
      response_templates = { for code, response in aws_api_gateway_integration_response.start_workflow : code => merge({}, response.response_templates) }
    }))
  }

  lifecycle {
    create_before_destroy = true
  }

  # The first call after apply must not fail because IAM has not yet propagated the
  # integration role's permission to start executions.
  depends_on = [aws_iam_role_policy.api_gateway_integration]
}

resource "aws_api_gateway_stage" "this" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = local.stack.api.stage
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId         = "$context.requestId"
      extendedRequestId = "$context.extendedRequestId"
      requestTime       = "$context.requestTime"
      sourceIp          = "$context.identity.sourceIp"
      apiKeyId          = "$context.identity.apiKeyId"
      httpMethod        = "$context.httpMethod"
      resourcePath      = "$context.resourcePath"
      status            = "$context.status"
      responseLength    = "$context.responseLength"
      integrationError  = "$context.integration.error"
    })
  }

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.api_execution]
}

resource "aws_api_gateway_method_settings" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    logging_level      = "ERROR"
    metrics_enabled    = true
    data_trace_enabled = false
  }
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${local.names.api}/access"
  retention_in_days = var.log_retention_days
}

# API Gateway writes execution logs to this fixed name; creating it here sets its
# retention and lets the stack delete it.
resource "aws_cloudwatch_log_group" "api_execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${local.stack.api.stage}"
  retention_in_days = var.log_retention_days
}

resource "aws_api_gateway_api_key" "this" {
  name        = "${local.names.api}-key"
  description = "Key for callers of POST ${local.stack.api.path}."
  enabled     = true
}

resource "aws_api_gateway_usage_plan" "this" {
  name        = "${local.names.api}-plan"
  description = "Throttles callers of POST ${local.stack.api.path}."

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.api_throttle_rate_limit
    burst_limit = var.api_throttle_burst_limit
  }
}

resource "aws_api_gateway_usage_plan_key" "this" {
  key_id        = aws_api_gateway_api_key.this.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}

# Integration role: API Gateway may start executions of this state machine, nothing else.
resource "aws_iam_role" "api_gateway_integration" {
  name               = "${local.names.api}-start-execution"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
}

data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "api_gateway_integration" {
  name   = "start-execution"
  role   = aws_iam_role.api_gateway_integration.id
  policy = data.aws_iam_policy_document.api_gateway_integration.json
}

data "aws_iam_policy_document" "api_gateway_integration" {
  statement {
    sid       = "StartOrderApproval"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }
}
