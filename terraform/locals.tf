locals {
  # The workspace named "emulator" deploys to the local emulator instead of AWS, into a state of
  # its own: which stack a command changes and where its state lives are one choice, never two.
  emulated = terraform.workspace == "emulator"

  # stack.json is the one source of truth for names and settings shared with the
  # controller, the emulator and the tests. Never repeat its values here.
  stack = jsondecode(file("${path.module}/../stack.json"))

  names = {
    approval_queue    = "${var.name_prefix}-${local.stack.names.approval_queue}"
    dead_letter_queue = "${var.name_prefix}-${local.stack.names.dead_letter_queue}"
    order_function    = "${var.name_prefix}-${local.stack.names.order_function}"
    state_machine     = "${var.name_prefix}-${local.stack.names.state_machine}"
    api               = "${var.name_prefix}-${local.stack.names.api}"
    approvals_table   = "${var.name_prefix}-${local.stack.names.approvals_table}"
  }

  # One API Gateway resource per segment of api.path: /start/workflow gives start and workflow.
  api_path_parts = split("/", trimprefix(local.stack.api.path, "/"))

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # The provider's region is var.aws_region; reading it back from data "aws_region" needs
  # .region in provider 6.x and .name (deprecated there) in 5.x.
  region = var.aws_region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
