-- Day-two operations (issue 15): whether a server's app should run (`strata app stop` is
-- sticky across agent restarts until `strata app start`) and the last restart asked; and
-- the embedded Coordinator's durable locks (maintenance windows outlive a restart).
ALTER TABLE desired_state ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE desired_state ADD COLUMN restart TEXT;
CREATE TABLE coordinator_locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL
);
