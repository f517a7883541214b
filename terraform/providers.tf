provider "aws" {
  region                   = var.aws_region
  profile                  = var.aws_profile == "" ? null : var.aws_profile
  shared_credentials_files = [pathexpand(var.credentials_path)]

  # In the emulator workspace: every service the stack uses at the emulator's endpoint, with
  # its fake credentials, and no look for credentials on an EC2 metadata service.
  access_key                  = local.emulated ? "testing" : null
  secret_key                  = local.emulated ? "testing" : null
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.emulator_endpoint_url] : []

    content {
      apigateway     = endpoints.value
      cloudwatchlogs = endpoints.value
      dynamodb       = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      lambda         = endpoints.value
      sfn            = endpoints.value
      sqs            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = var.tags
  }
}
