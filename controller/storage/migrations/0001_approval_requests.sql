-- One row per approval request, keyed by the execution name. The task token is kept
-- here because SendTaskSuccess/Failure need it; it never leaves this database.
CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    task_token TEXT NOT NULL,
    order_json TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'deciding', 'approved', 'rejected', 'expired', 'closed')),
    decision TEXT CHECK (decision IN ('approve', 'reject')),
    approver TEXT,
    comment TEXT,
    reason TEXT,
    decided_at TEXT,
    closed_reason TEXT
);

CREATE INDEX approval_requests_by_state ON approval_requests (state, received_at);
