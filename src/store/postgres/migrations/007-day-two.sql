-- As SQLite's 010: a server's app run state, the embedded Coordinator's durable locks, sealed secrets.
ALTER TABLE desired_state ADD COLUMN stopped BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE desired_state ADD COLUMN restart TEXT;
CREATE TABLE coordinator_locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL
);
CREATE TABLE secrets (
  app TEXT NOT NULL,
  key TEXT NOT NULL,
  sealed TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app, key)
);
