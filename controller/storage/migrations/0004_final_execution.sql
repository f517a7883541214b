-- The execution's last status (JSON), kept once it can no longer change.
ALTER TABLE approval_requests ADD COLUMN final_execution TEXT;
