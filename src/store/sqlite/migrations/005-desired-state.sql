-- Per-server desired state belongs to the Coordinator (the embedded one keeps it
-- here; etcd keeps it in its keyspace): nothing else reads it from the servers table.
CREATE TABLE desired_state (
  server TEXT PRIMARY KEY,
  generation INTEGER NOT NULL,
  release TEXT,
  stage TEXT
);
INSERT INTO desired_state (server, generation, release, stage)
  SELECT name, desired_generation, desired_release, NULL FROM servers
  WHERE desired_generation > 0 OR desired_release IS NOT NULL;
ALTER TABLE servers DROP COLUMN desired_release;
ALTER TABLE servers DROP COLUMN desired_generation;

-- Server identity: a single-use join token per launched instance (hash only), with its expiry.
ALTER TABLE servers ADD COLUMN join_token_hash TEXT;
ALTER TABLE servers ADD COLUMN join_expires_at INTEGER;
