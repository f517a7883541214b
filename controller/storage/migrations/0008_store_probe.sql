-- One row the controller rewrites to learn whether the database can be written (a full disk
-- fails the write), before it takes messages from SQS that it could not store.
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at TEXT NOT NULL
);
