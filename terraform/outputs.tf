output "api_url" {
  description = "Full URL of POST /start/workflow; send the API key in the x-api-key header. In the emulator workspace, the emulator's gateway's URL for this API."
  value = (local.emulated
    ? "${var.emulator_gateway_url}/restapis/${aws_api_gateway_rest_api.this.id}/${aws_api_gateway_stage.this.stage_name}/_user_request_${local.stack.api.path}"
    : "${aws_api_gateway_stage.this.invoke_url}${local.stack.api.path}"
  )
}

output "api_key" {
  description = "API key for POST /start/workflow."
  value       = aws_api_gateway_api_key.this.value
  sensitive   = true
}

output "aws_region" {
  description = "Region the stack is deployed to, for the controller's AWS clients."
  value       = local.region
}

output "aws_endpoint_url" {
  description = "Where the emulator serves the AWS APIs, in the emulator workspace only (null, so absent, on AWS)."
  value       = local.emulated ? var.emulator_endpoint_url : null
}

output "approval_queue_url" {
  description = "URL of the SQS queue holding approval requests, read by the controller."
  value       = aws_sqs_queue.approval.url
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue for approval requests nobody could handle."
  value       = aws_sqs_queue.dead_letter.url
}

output "state_machine_arn" {
  description = "ARN of the order approval state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "order_function_arn" {
  description = "ARN of the Lambda function that processes orders."
  value       = aws_lambda_function.this.arn
}

output "approvals_table_name" {
  description = "Name of the DynamoDB table the controllers share when CONTROLLER_STORE=dynamodb."
  value       = aws_dynamodb_table.this.name
}

output "controller_policy_json" {
  description = "IAM policy (JSON) the approval controller needs; attach it to the controller's role or user."
  value       = data.aws_iam_policy_document.controller.json
}
