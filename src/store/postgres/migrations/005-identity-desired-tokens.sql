-- As SQLite's 005, 007 and 008: desired state belongs to the Coordinator, single-use join
-- tokens bound to the instance, API tokens by role, and each forecast's backtest score.
CREATE TABLE desired_state (
  server TEXT PRIMARY KEY,
  generation BIGINT NOT NULL,
  release TEXT,
  stage TEXT
);
INSERT INTO desired_state (server, generation, release, stage)
  SELECT name, desired_generation, desired_release, NULL FROM servers
  WHERE desired_generation > 0 OR desired_release IS NOT NULL;
ALTER TABLE servers DROP COLUMN desired_release;
ALTER TABLE servers DROP COLUMN desired_generation;
ALTER TABLE servers ADD COLUMN join_token_hash TEXT;
ALTER TABLE servers ADD COLUMN join_expires_at BIGINT;

CREATE TABLE api_tokens (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

ALTER TABLE forecasts ADD COLUMN backtest_wmape DOUBLE PRECISION;
ALTER TABLE forecasts ADD COLUMN backtest_days INTEGER;
ALTER TABLE forecasts ADD COLUMN backtest_hours INTEGER;
