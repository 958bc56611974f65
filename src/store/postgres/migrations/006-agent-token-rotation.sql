-- As SQLite's 009: agent token rotation (age, the new token not used yet, the old one's grace,
-- an operator's request to rotate).
ALTER TABLE servers ADD COLUMN token_issued_at BIGINT;
ALTER TABLE servers ADD COLUMN pending_token_hash TEXT UNIQUE;
ALTER TABLE servers ADD COLUMN previous_token_hash TEXT UNIQUE;
ALTER TABLE servers ADD COLUMN previous_token_until BIGINT;
ALTER TABLE servers ADD COLUMN rotate_requested_at BIGINT;
