-- Requests per app and UTC minute. Ingests add to a minute (additive upsert).
CREATE TABLE traffic_minutes (
  app TEXT NOT NULL,
  minute_utc INTEGER NOT NULL, -- start of the minute, Unix ms
  total INTEGER NOT NULL CHECK (total >= 0),
  s2xx INTEGER NOT NULL CHECK (s2xx >= 0),
  s3xx INTEGER NOT NULL CHECK (s3xx >= 0),
  s4xx INTEGER NOT NULL CHECK (s4xx >= 0),
  s5xx INTEGER NOT NULL CHECK (s5xx >= 0),
  PRIMARY KEY (app, minute_utc)
) WITHOUT ROWID;

-- Whole files ingested, one row per posted batch (part), so a re-ingest counts nothing twice.
-- source_key is sha256:<hex> of the decoded content.
CREATE TABLE traffic_sources (
  app TEXT NOT NULL,
  source_key TEXT NOT NULL,
  part INTEGER NOT NULL,
  minutes INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  path TEXT,
  recorded_at INTEGER NOT NULL, -- Unix ms
  PRIMARY KEY (app, source_key, part)
) WITHOUT ROWID;

-- Followed (live) files: where reading stopped, so a restart resumes there.
-- source_key is follow:<sha256 of the file's first line>.
CREATE TABLE traffic_checkpoints (
  app TEXT NOT NULL,
  source_key TEXT NOT NULL,
  inode INTEGER,
  byte_offset INTEGER NOT NULL,
  path TEXT,
  updated_at INTEGER NOT NULL, -- Unix ms
  PRIMARY KEY (app, source_key)
) WITHOUT ROWID;
