-- Tokens of people and scripts, each with a role; only hashes are kept.
CREATE TABLE api_tokens (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
