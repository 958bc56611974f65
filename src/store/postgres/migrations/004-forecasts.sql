-- Stored forecasts, known events and the daily schedule (src/store/forecast-repo.ts).
CREATE TABLE forecasts (
  id BIGSERIAL PRIMARY KEY,
  app TEXT NOT NULL,
  origin_utc BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'daily')),
  requested_model TEXT NOT NULL,
  model TEXT NOT NULL,
  zone TEXT NOT NULL,
  history_from BIGINT,
  history_hours INTEGER NOT NULL,
  missing_hours INTEGER NOT NULL
);
CREATE INDEX forecasts_app ON forecasts (app, id);

CREATE TABLE forecast_hours (
  forecast_id BIGINT NOT NULL REFERENCES forecasts (id) ON DELETE CASCADE,
  hour_utc BIGINT NOT NULL,
  mean DOUBLE PRECISION NOT NULL CHECK (mean >= 0),
  p90 DOUBLE PRECISION NOT NULL CHECK (p90 >= 0),
  PRIMARY KEY (forecast_id, hour_utc)
);

CREATE TABLE forecast_events (
  id BIGSERIAL PRIMARY KEY,
  app TEXT NOT NULL,
  from_utc BIGINT NOT NULL,
  to_utc BIGINT NOT NULL CHECK (to_utc > from_utc),
  factor DOUBLE PRECISION NOT NULL CHECK (factor > 0),
  note TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX forecast_events_app ON forecast_events (app, from_utc);

-- Claimed before the run, so a restart or a second replica never runs the same day twice.
CREATE TABLE forecast_daily_runs (
  app TEXT NOT NULL,
  day TEXT NOT NULL,
  claimed_at BIGINT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'stored', 'skipped', 'failed')),
  forecast_id BIGINT,
  message TEXT,
  PRIMARY KEY (app, day)
);
