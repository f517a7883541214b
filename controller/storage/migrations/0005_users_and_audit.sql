-- The people who may sign in. No row at all: the controller runs in local mode, without sign-in.
-- Only hashes are kept: the password's (scrypt, with its salt and cost) and the API token's (SHA-256).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('approver', 'viewer')),
    password_hash TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Failed sign-ins, per name and per address ("name:..." / "address:..."), for the lockout.
CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failed_at TEXT NOT NULL,
    locked_until TEXT
);

-- Every attempt to decide, taken or refused: who, when, from where, what, and how it ended.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT,
    role TEXT,
    address TEXT,
    action TEXT NOT NULL,
    request_id TEXT,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL
);

CREATE INDEX audit_events_by_request ON audit_events (request_id, id);
