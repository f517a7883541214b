-- Once a user has existed, the database stays closed to local mode even when the last one is removed:
-- the row is written when a user is added and taken away only by `users local-mode`, on purpose.
CREATE TABLE sign_in_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    users_since TEXT NOT NULL
);

INSERT INTO sign_in_state (id, users_since) SELECT 1, MIN(created_at) FROM users HAVING COUNT(*) > 0;

CREATE TRIGGER users_close_local_mode AFTER INSERT ON users
BEGIN
    INSERT OR IGNORE INTO sign_in_state (id, users_since) VALUES (1, NEW.created_at);
END;

-- User names are unique whatever their case or Unicode form: name_key is the NFKC case-folded name
-- (names from before this version get their lower-case form, which is what they were compared by).
ALTER TABLE users ADD COLUMN name_key TEXT;
UPDATE users SET name_key = lower(name);
CREATE INDEX users_by_key ON users (name_key);

-- Page sessions, so that signing out, a new token, a new password or removing the user ends them
-- everywhere at once. Only the SHA-256 of the session's secret is kept; the cookie holds the secret.
CREATE TABLE sessions (
    secret_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_name);
