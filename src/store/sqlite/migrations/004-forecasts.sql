-- Stored forecasts, known events and the daily schedule (src/forecast/forecast-repo.ts).
-- Times are Unix ms (UTC).

CREATE TABLE forecasts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  origin_utc INTEGER NOT NULL, -- start of the first forecast hour = end of the history, a whole hour
  created_at INTEGER NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'daily')),
  requested_model TEXT NOT NULL, -- auto or a model name
  model TEXT NOT NULL, -- the point model behind the mean
  zone TEXT NOT NULL, -- IANA zone whose days and hours of day the model saw
  history_from INTEGER, -- first hour with data in the window used
  history_hours INTEGER NOT NULL, -- hours with data
  missing_hours INTEGER NOT NULL -- hours without data from history_from to origin_utc
);
CREATE INDEX forecasts_app ON forecasts (app, id);

-- The model's own numbers, before known events (those apply when a forecast is read).
CREATE TABLE forecast_hours (
  forecast_id INTEGER NOT NULL REFERENCES forecasts (id) ON DELETE CASCADE,
  hour_utc INTEGER NOT NULL,
  mean REAL NOT NULL CHECK (mean >= 0),
  p90 REAL NOT NULL CHECK (p90 >= 0),
  PRIMARY KEY (forecast_id, hour_utc)
) WITHOUT ROWID;

CREATE TABLE forecast_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  from_utc INTEGER NOT NULL,
  to_utc INTEGER NOT NULL CHECK (to_utc > from_utc),
  factor REAL NOT NULL CHECK (factor > 0),
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX forecast_events_app ON forecast_events (app, from_utc);

-- One row per app and local day of the daily run: inserted before the run (the claim),
-- so a restart, a catch-up or a second replica never runs the same day twice.
CREATE TABLE forecast_daily_runs (
  app TEXT NOT NULL,
  day TEXT NOT NULL, -- YYYY-MM-DD in the configured zone
  claimed_at INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'stored', 'skipped', 'failed')),
  forecast_id INTEGER,
  message TEXT,
  PRIMARY KEY (app, day)
) WITHOUT ROWID;
