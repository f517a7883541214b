-- Every change of a request's state, in order: what GET /events streams to open pages. Triggers
-- write it, so no code path that moves a request can forget to announce it.
CREATE TABLE request_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('stored', 'changed')),
    request_id TEXT NOT NULL,
    state TEXT NOT NULL
);

CREATE TRIGGER request_stored AFTER INSERT ON approval_requests
BEGIN
    INSERT INTO request_events (kind, request_id, state) VALUES ('stored', NEW.id, NEW.state);
END;

CREATE TRIGGER request_moved AFTER UPDATE OF state ON approval_requests WHEN NEW.state <> OLD.state
BEGIN
    INSERT INTO request_events (kind, request_id, state) VALUES ('changed', NEW.id, NEW.state);
END;
