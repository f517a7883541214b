-- Webhook notifications of new requests: written in the transaction that stores the request,
-- so none is lost between storing and sending; delivered or given up on, never dropped unseen.
CREATE TABLE notifications (
    request_id TEXT PRIMARY KEY REFERENCES approval_requests (id),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    failed_at TEXT,
    last_error TEXT
);

CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
