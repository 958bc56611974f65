-- The replayed backtest behind a forecast (src/store/forecast-repo.ts ForecastBacktest):
-- wMAPE of the model's first-day forecasts replayed on the app's own recent history.
-- NULL on forecasts stored before this migration.
ALTER TABLE forecasts ADD COLUMN backtest_wmape REAL;
ALTER TABLE forecasts ADD COLUMN backtest_days INTEGER;
ALTER TABLE forecasts ADD COLUMN backtest_hours INTEGER;
