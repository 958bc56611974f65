-- Day-two operations (issue 15): whether a server's app should run (`strata app stop` is
-- sticky across agent restarts until `strata app start`) and the last restart asked; and
-- the embedded Coordinator's durable locks (maintenance windows outlive a restart); secrets.
ALTER TABLE desired_state ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE desired_state ADD COLUMN restart TEXT;
CREATE TABLE coordinator_locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL
);
-- An app's secrets, sealed with AES-256-GCM under the control plane's secrets key
-- (src/secrets/secret-box.ts): the value never reaches this file in plaintext.
CREATE TABLE secrets (
  app TEXT NOT NULL,
  key TEXT NOT NULL,
  sealed TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (app, key)
);
