-- Queue messages that are not approval requests. They stay on the queue, so the redrive
-- policy moves them to the dead-letter queue; this table is what the API shows of them.
CREATE TABLE invalid_messages (
    message_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
