-- Core state of the control plane. Times are Unix ms in BIGINT unless noted; `grp` is a group
-- name (GROUP is a keyword). `seq` orders rows inserted in the same millisecond.

CREATE TABLE releases (
  id TEXT NOT NULL,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  size BIGINT NOT NULL,
  file_count INTEGER NOT NULL,
  created_at TEXT NOT NULL, -- ISO 8601
  PRIMARY KEY (app, version)
);
CREATE INDEX releases_id ON releases (id);

CREATE TABLE groups (
  name TEXT PRIMARY KEY,
  app TEXT,
  desired_release TEXT,
  previous_release TEXT,
  balancer_port INTEGER
);

CREATE TABLE servers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  grp TEXT NOT NULL,
  address TEXT NOT NULL,
  provider_id TEXT,
  state TEXT NOT NULL,
  root TEXT,
  token_hash TEXT UNIQUE,
  current_release TEXT,
  desired_release TEXT,
  desired_generation BIGINT NOT NULL DEFAULT 0,
  app_port INTEGER,
  app_healthy BOOLEAN NOT NULL DEFAULT false,
  in_service BOOLEAN NOT NULL DEFAULT false,
  last_heartbeat BIGINT,
  image TEXT,
  launched_at BIGINT,
  ready_at BIGINT,
  in_service_at BIGINT
);
CREATE INDEX servers_group ON servers (grp, name);

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  seq BIGSERIAL NOT NULL,
  app TEXT NOT NULL,
  grp TEXT NOT NULL,
  version TEXT NOT NULL,
  release TEXT NOT NULL,
  previous_release TEXT,
  kind TEXT NOT NULL,
  strategy TEXT NOT NULL,
  batch TEXT NOT NULL,
  max_failures INTEGER NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  waves INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX deployments_app_group ON deployments (app, grp, created_at);
CREATE INDEX deployments_running ON deployments (app, grp) WHERE state = 'running';

CREATE TABLE deployment_servers (
  deployment_id TEXT NOT NULL REFERENCES deployments (id),
  server TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  steps JSONB NOT NULL DEFAULT '[]',
  PRIMARY KEY (deployment_id, server)
);

-- Hash-chained (src/store/audit-chain.ts); ids are given by the appender, which holds a lock.
CREATE TABLE audit_log (
  id BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail JSONB NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);

-- A first guard: the database refuses edits (a table owner can disable it; the chain still tells).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
