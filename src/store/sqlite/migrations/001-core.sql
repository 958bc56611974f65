CREATE TABLE releases (
  id TEXT NOT NULL,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  size INTEGER NOT NULL,
  file_count INTEGER NOT NULL,
  created_at TEXT NOT NULL,
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
  desired_generation INTEGER NOT NULL DEFAULT 0,
  app_port INTEGER,
  app_healthy INTEGER NOT NULL DEFAULT 0,
  in_service INTEGER NOT NULL DEFAULT 0,
  last_heartbeat INTEGER,
  image TEXT,
  launched_at INTEGER,
  ready_at INTEGER,
  in_service_at INTEGER
);

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
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
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX deployments_app_group ON deployments (app, grp, created_at);

CREATE TABLE deployment_servers (
  deployment_id TEXT NOT NULL REFERENCES deployments (id),
  server TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  steps TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (deployment_id, server)
);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL
);

-- The log is append-only: the database itself refuses edits.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
