-- Agent token rotation: when the token was issued (its age), the new token handed out and not
-- used yet, the old token and the end of its grace once the new one was used, and an
-- operator's request that the next heartbeat rotate (strata tokens rotate).
ALTER TABLE servers ADD COLUMN token_issued_at INTEGER;
ALTER TABLE servers ADD COLUMN pending_token_hash TEXT;
ALTER TABLE servers ADD COLUMN previous_token_hash TEXT;
ALTER TABLE servers ADD COLUMN previous_token_until INTEGER;
ALTER TABLE servers ADD COLUMN rotate_requested_at INTEGER;
CREATE UNIQUE INDEX servers_pending_token_hash ON servers (pending_token_hash);
CREATE UNIQUE INDEX servers_previous_token_hash ON servers (previous_token_hash);
