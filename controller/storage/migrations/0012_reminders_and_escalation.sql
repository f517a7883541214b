-- When a request's rule has those who may decide it reminded, and when it lets the escalation groups decide
-- too, fixed when it was stored like the rule; and when the upkeep took each, which it does at most once.
ALTER TABLE approval_requests ADD COLUMN remind_at TEXT;
ALTER TABLE approval_requests ADD COLUMN escalate_at TEXT;
ALTER TABLE approval_requests ADD COLUMN reminded_at TEXT;
ALTER TABLE approval_requests ADD COLUMN escalated_at TEXT;

-- Requests stored under a rule before this version have both times in their rule already.
UPDATE approval_requests
SET remind_at = json_extract(rule_json, '$.remind_at'), escalate_at = json_extract(rule_json, '$.escalate_at')
WHERE rule_json IS NOT NULL;

CREATE INDEX approval_requests_remind ON approval_requests (remind_at) WHERE reminded_at IS NULL;
CREATE INDEX approval_requests_escalate ON approval_requests (escalate_at) WHERE escalated_at IS NULL;

-- An escalation lets more people decide from then on: open pages show it.
CREATE TRIGGER request_escalated AFTER UPDATE OF escalated_at ON approval_requests
WHEN OLD.escalated_at IS NULL AND NEW.escalated_at IS NOT NULL
BEGIN
    INSERT INTO request_events (kind, request_id, state) VALUES ('changed', NEW.id, NEW.state);
END;

-- A notification is now one of a kind per request: the new request's, its reminder, its escalation.
CREATE TABLE notifications_by_kind (
    request_id TEXT NOT NULL REFERENCES approval_requests (id),
    kind TEXT NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'reminder', 'escalation')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    failed_at TEXT,
    last_error TEXT,
    PRIMARY KEY (request_id, kind)
);
INSERT INTO notifications_by_kind (request_id, attempts, next_attempt_at, delivered_at, failed_at, last_error)
SELECT request_id, attempts, next_attempt_at, delivered_at, failed_at, last_error FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_by_kind RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
