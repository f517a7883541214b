{
  "Comment": "Human approval: process an order, then wait for a person to approve or reject it.",
  "StartAt": "Process Order",
  "States": {
    "Process Order": {
      "Type": "Task",
      "Resource": "arn:${partition}:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "${order_function_arn}",
        "Payload.$": "$"
      },
      "OutputPath": "$.Payload",
      "Retry": [
        {
          "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException"
          ],
          "IntervalSeconds": 1,
          "MaxAttempts": 3,
          "BackoffRate": 2
        }
      ],
      "Catch": [
        {
          "ErrorEquals": ["InvalidOrder"],
          "ResultPath": "$.failure",
          "Next": "Order Invalid"
        },
        {
          "ErrorEquals": ["States.ALL"],
          "ResultPath": "$.failure",
          "Next": "Order Processing Failed"
        }
      ],
      "Next": "Request Approval"
    },
    "Request Approval": {
      "Type": "Task",
      "Resource": "arn:${partition}:states:::sqs:sendMessage.waitForTaskToken",
      "Parameters": {
        "QueueUrl": "${approval_queue_url}",
        "MessageBody": {
          "MessageTitle": "Processing Order, approve / reject to proceed.",
          "TaskToken.$": "$$.Task.Token",
          "ExecutionName.$": "$$.Execution.Name",
          "ExecutionArn.$": "$$.Execution.Id",
          "Order.$": "$",
          "RequestedAt.$": "$$.State.EnteredTime",
          "TimeoutSeconds": ${approval_timeout_seconds}
        }
      },
      "TimeoutSeconds": ${approval_timeout_seconds},
      "ResultPath": "$.approval",
      "Catch": [
        {
          "ErrorEquals": ["Rejected"],
          "ResultPath": "$.failure",
          "Next": "Rejected"
        },
        {
          "ErrorEquals": ["States.Timeout"],
          "ResultPath": "$.failure",
          "Next": "Approval Timed Out"
        },
        {
          "ErrorEquals": ["States.ALL"],
          "ResultPath": "$.failure",
          "Next": "Failure"
        }
      ],
      "Next": "Success"
    },
    "Success": {
      "Type": "Pass",
      "End": true
    },
    "Order Invalid": {
      "Type": "Fail",
      "Error": "InvalidOrder",
      "CausePath": "$.failure.Cause"
    },
    "Order Processing Failed": {
      "Type": "Fail",
      "Error": "OrderProcessingFailed",
      "CausePath": "$.failure.Cause"
    },
    "Rejected": {
      "Type": "Fail",
      "Error": "Rejected",
      "CausePath": "$.failure.Cause"
    },
    "Approval Timed Out": {
      "Type": "Fail",
      "Error": "ApprovalTimedOut",
      "Cause": "Nobody approved or rejected the order within ${approval_timeout_seconds} seconds."
    },
    "Failure": {
      "Type": "Fail",
      "Error": "ApprovalRequestFailed",
      "CausePath": "$.failure.Cause"
    }
  }
}
