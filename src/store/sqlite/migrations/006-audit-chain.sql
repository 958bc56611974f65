-- Tamper evidence: every entry carries the hash of the one before it (src/store/audit-chain.ts).
-- The triggers stay as a first guard; the chain is what `strata audit verify` checks.
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

-- Entries written before the chain get their hashes once, when the store opens; then never again.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log WHEN OLD.hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
