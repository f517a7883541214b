"""The approval domain, free of Flask: the inbox (SQS to the store), decisions, executions, notifications."""
