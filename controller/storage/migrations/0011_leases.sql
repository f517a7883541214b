-- Leases on pieces of work any controller could do (a liveness check, a notification's delivery): one owner at
-- a time, until the lease ends or is given back; an owner that died leaves it to be taken over once it ends.
CREATE TABLE leases (
    work TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
