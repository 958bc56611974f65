-- As SQLite's 009: a server's app run state and the embedded Coordinator's durable locks.
ALTER TABLE desired_state ADD COLUMN stopped BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE desired_state ADD COLUMN restart TEXT;
CREATE TABLE coordinator_locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL
);
