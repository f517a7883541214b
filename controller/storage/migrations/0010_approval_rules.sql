-- The groups a user belongs to (a JSON array of names): approval rules say who may decide by group.
ALTER TABLE users ADD COLUMN groups_json TEXT NOT NULL DEFAULT '[]';

-- The approval rule a request is decided under (JSON), fixed when it was stored, so that a change of
-- the policy file never moves a request already waiting. NULL: any approver decides it alone.
ALTER TABLE approval_requests ADD COLUMN rule_json TEXT;

-- The approvals a request under a rule has received, one per person; the one that completes the
-- rule's count claims the request in the same transaction.
CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES approval_requests (id),
    approver TEXT NOT NULL,
    at TEXT NOT NULL,
    comment TEXT,
    PRIMARY KEY (request_id, approver)
);

-- An approval that leaves a request pending is a change too: open pages show the progress.
CREATE TRIGGER approval_recorded AFTER INSERT ON approvals
BEGIN
    INSERT INTO request_events (kind, request_id, state) VALUES ('changed', NEW.request_id, 'pending');
END;
