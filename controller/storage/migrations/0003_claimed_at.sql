-- When a decision claimed the request: a claim older than any AWS call is finished later.
ALTER TABLE approval_requests ADD COLUMN claimed_at TEXT;
