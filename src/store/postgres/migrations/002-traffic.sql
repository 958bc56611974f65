-- Requests per app and UTC minute (src/store/traffic-repo.ts). Ingests add to a minute.
CREATE TABLE traffic_minutes (
  app TEXT NOT NULL,
  minute_utc BIGINT NOT NULL, -- start of the minute, Unix ms
  total BIGINT NOT NULL CHECK (total >= 0),
  s2xx BIGINT NOT NULL CHECK (s2xx >= 0),
  s3xx BIGINT NOT NULL CHECK (s3xx >= 0),
  s4xx BIGINT NOT NULL CHECK (s4xx >= 0),
  s5xx BIGINT NOT NULL CHECK (s5xx >= 0),
  PRIMARY KEY (app, minute_utc)
);

-- Whole files ingested, one row per posted batch (part), so a re-ingest counts nothing twice.
CREATE TABLE traffic_sources (
  app TEXT NOT NULL,
  source_key TEXT NOT NULL,
  part INTEGER NOT NULL,
  minutes INTEGER NOT NULL,
  requests BIGINT NOT NULL,
  path TEXT,
  recorded_at BIGINT NOT NULL,
  PRIMARY KEY (app, source_key, part)
);

-- Followed (live) files: where reading stopped, so a restart resumes there.
CREATE TABLE traffic_checkpoints (
  app TEXT NOT NULL,
  source_key TEXT NOT NULL,
  inode BIGINT,
  byte_offset BIGINT NOT NULL,
  path TEXT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app, source_key)
);
