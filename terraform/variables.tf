variable "lambda_function_payload" {
  description = "Path to the zip file holding the order Lambda (lambda/function.py), built by build_and_run.sh."
  type        = string

  validation {
    condition     = endswith(var.lambda_function_payload, ".zip")
    error_message = "The Lambda payload must be a .zip file."
  }
}

variable "sfn_state_machine_definition" {
  description = "Path to the state machine definition template (state_machine_definition.json.tpl)."
  type        = string
}

variable "aws_profile" {
  description = "Named profile in the shared credentials file; the empty string uses the default credential chain."
  type        = string
  default     = ""
}

variable "aws_region" {
  description = "AWS region to deploy the stack to."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "The region must look like an AWS region name, for example eu-west-1."
  }
}

variable "emulator_endpoint_url" {
  description = "Where the local emulator (python -m emulator) serves the AWS APIs; used only in the workspace named emulator, which deploys there instead of AWS."
  type        = string
  default     = "http://127.0.0.1:5000"

  validation {
    condition     = can(regex("^https?://[^/\\s]+/?$", var.emulator_endpoint_url))
    error_message = "The emulator endpoint must be an http:// or https:// URL with no path, for example http://127.0.0.1:5000."
  }
}

variable "emulator_gateway_url" {
  description = "Where the local emulator serves the REST APIs it holds (python -m emulator --api-port); api_url points there in the workspace named emulator."
  type        = string
  default     = "http://127.0.0.1:4000"

  validation {
    condition     = can(regex("^https?://[^/\\s]+$", var.emulator_gateway_url))
    error_message = "The emulator gateway must be an http:// or https:// URL with no path, for example http://127.0.0.1:4000."
  }
}

variable "credentials_path" {
  description = "Path to the shared AWS credentials file."
  type        = string
  default     = "~/.aws/credentials"
}

variable "name_prefix" {
  description = "Prefix of every resource name; must match name_prefix in stack.json for the controller to find the stack by name."
  type        = string
  default     = "human-approval"

  validation {
    # 29: the longest derived name is the API's integration role, "<prefix>-order-approval-api-start-execution",
    # and IAM role names hold at most 64 characters. tests/terraform/test_terraform_names.py recomputes it.
    condition     = can(regex("^[a-z][a-z0-9-]{0,28}$", var.name_prefix))
    error_message = "The name prefix must start with a lowercase letter and hold at most 29 lowercase letters, digits and hyphens, so that every name derived from it fits its service's length limit."
  }
}

variable "approval_timeout_seconds" {
  description = "How long an approval request waits for a decision before the execution fails with ApprovalTimedOut."
  type        = number
  default     = 86400

  validation {
    condition     = var.approval_timeout_seconds == floor(var.approval_timeout_seconds) && var.approval_timeout_seconds >= 60 && var.approval_timeout_seconds <= 1209600
    error_message = "The approval timeout must be a whole number of seconds from 60 (one minute) to 1209600 (14 days, the longest SQS keeps the approval request; a longer wait could outlive its message)."
  }
}

variable "log_retention_days" {
  description = "Days to keep the Lambda, state machine and API Gateway logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log retention must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "api_throttle_rate_limit" {
  description = "Steady-state requests per second the API key may send to POST /start/workflow."
  type        = number
  default     = 5

  validation {
    condition     = var.api_throttle_rate_limit > 0 && var.api_throttle_rate_limit <= 10000
    error_message = "The throttle rate limit must be greater than 0 and at most 10000 requests per second."
  }
}

variable "api_throttle_burst_limit" {
  description = "Largest burst of requests the API key may send to POST /start/workflow."
  type        = number
  default     = 10

  validation {
    condition     = var.api_throttle_burst_limit == floor(var.api_throttle_burst_limit) && var.api_throttle_burst_limit >= 1 && var.api_throttle_burst_limit <= 5000
    error_message = "The throttle burst limit must be a whole number from 1 to 5000."
  }
}

variable "manage_api_gateway_account" {
  description = "Set the API Gateway CloudWatch Logs role of the account and region, which REST API logging requires. Set to false only when `aws apigateway get-account` in that region already shows a cloudwatchRoleArn; without one, creating the stage fails."
  type        = bool
  default     = true
}

variable "controller_role_name" {
  description = "Name of an existing IAM role the approval controller runs as; when set, the controller policy is attached to it."
  type        = string
  default     = null
}

variable "controller_user_name" {
  description = "Name of an existing IAM user the approval controller runs as; when set, the controller policy is attached to it."
  type        = string
  default     = null
}

variable "approvals_table_deletion_protection" {
  description = "Refuse to delete the approvals table, which holds the task token of every pending request. Set to false and apply before `terraform destroy`."
  type        = bool
  default     = true

  validation {
    condition     = var.approvals_table_deletion_protection != null
    error_message = "Deletion protection of the approvals table must be true or false."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
