resource "aws_sqs_queue" "approval" {
  name                       = local.names.approval_queue
  visibility_timeout_seconds = local.stack.approval_queue.visibility_timeout_seconds
  message_retention_seconds  = local.stack.approval_queue.message_retention_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = local.stack.approval_queue.max_receive_count
  })
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = local.names.dead_letter_queue
  message_retention_seconds = local.stack.dead_letter_queue.message_retention_seconds
  sqs_managed_sse_enabled   = true
}

# A separate resource, because the approval queue's redrive policy already refers to
# the dead-letter queue and an inline redrive_allow_policy would make a cycle.
resource "aws_sqs_queue_redrive_allow_policy" "this" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.approval.arn]
  })
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.approval.id
  policy    = data.aws_iam_policy_document.approval_queue.json
}

data "aws_iam_policy_document" "approval_queue" {
  statement {
    sid       = "StateMachineSendsApprovalRequests"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.approval.arn]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.state_machine.arn]
    }
  }
}
