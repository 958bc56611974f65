import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backtestTrace, rowsCsv } from "./trace-backtest.js";

const DATA = fileURLToPath(new URL("../../../shared/data/", import.meta.url));

/**
 * The backtest contract on every real trace, with the accuracy targets of issue 14: `auto` at
 * most the best R model's wMAPE on that trace (R forecast 8.20 under the same contract, the
 * data README's figures) and a p90 bound that covers 85-95% of the hours, on every trace; and
 * at 7 days of minimum history (a new service; R was not measured there) the same coverage and
 * at most the weekly seasonal naive's wMAPE on the same days. NASA and World Cup 98 keep a
 * margin of 10% (`maxRatio`), as before these defaults were chosen by leave-one-trace-out.
 */
const TRACES = [
  {
    file: "nasa_traffic_5m.csv",
    columns: { timeColumn: "timestamp", valueColumn: "request_count", missingColumn: "is_outage" },
    minHistory: 28 * 24,
    hours: 705,
    origins: 34,
    snaive: 0.22,
    bestReference: 0.177,
    maxRatio: 0.9,
    sample: /^1995-07-29T00:00:00-04:00,1995-07-29T14:00:00-04:00,,[\d.]+,[\d.]+$/m,
  },
  {
    file: "worldcup98_1m.csv",
    columns: { timeColumn: "period", valueColumn: "count" },
    minHistory: 28 * 24,
    hours: 1392,
    origins: 58,
    snaive: 0.682,
    bestReference: 0.42,
    maxRatio: 0.9,
    sample: /^1998-05-29T00:00:00,1998-05-29T14:00:00,\d+,[\d.]+,[\d.]+$/m,
  },
  {
    file: "Twitter_volume_GOOG.csv",
    columns: { timeColumn: "timestamp", valueColumn: "value" },
    minHistory: 28 * 24,
    hours: 624,
    origins: 26,
    snaive: 0.412,
    bestReference: 0.304,
    maxRatio: 1,
    sample: /^2015-03-27T00:00:00,2015-03-27T14:00:00,\d+,[\d.]+,[\d.]+$/m,
  },
  {
    file: "Twitter_volume_FB.csv",
    columns: { timeColumn: "timestamp", valueColumn: "value" },
    minHistory: 28 * 24,
    hours: 624,
    origins: 26,
    snaive: 0.407,
    bestReference: 0.264,
    maxRatio: 1,
    sample: /^2015-03-27T00:00:00,2015-03-27T14:00:00,\d+,[\d.]+,[\d.]+$/m,
  },
  {
    // Missed both before (7.0% against 6.8%, 84.7% coverage): the issue 14 regression.
    file: "ec2_cpu_utilization_24ae8d.csv",
    columns: { timeColumn: "timestamp", valueColumn: "value" },
    minHistory: 7 * 24,
    hours: 144,
    origins: 6,
    snaive: 0.068,
    bestReference: 0.068,
    maxRatio: 1,
    sample: /^2014-02-22T00:00:00,2014-02-22T14:00:00,[\d.]+,[\d.]+,[\d.]+$/m,
  },
];

describe(
  "backtest contract on the real traces",
  { skip: !existsSync(DATA) && `no ${DATA}` },
  () => {
    for (const t of TRACES) {
      test(`${t.file}: ${t.hours} forecast hours, auto <= ${t.maxRatio}x best R, p90 covers 85-95%`, async () => {
        const dir = await mkdtemp(join(tmpdir(), "strata-backtest-"));
        try {
          const rowsPath = join(dir, "rows.csv");
          const r = await backtestTrace({
            input: join(DATA, t.file),
            ...t.columns,
            model: "auto",
            minHistory: t.minHistory,
            rowsPath,
          });
          assert.equal(r.contract.origins, t.origins);
          assert.equal(r.contract.forecastHours, t.hours);
          const auto = r.scores.find((s) => s.model === "auto");
          const naive = r.scores.find((s) => s.model === "snaive-week");
          assert.ok(auto && naive);
          assert.equal(auto.hours, t.hours);
          assert.equal(naive.hours, t.hours);
          assert.ok(Math.abs(naive.wmape - t.snaive) < 0.015, `snaive-week ${naive.wmape}`);
          assert.ok(auto.wmape <= t.maxRatio * t.bestReference, `auto wMAPE ${auto.wmape}`);
          assert.ok(
            auto.p90Coverage >= 0.85 && auto.p90Coverage <= 0.95,
            `p90 coverage ${auto.p90Coverage}`,
          );
          const csv = await readFile(rowsPath, "utf8");
          assert.equal(csv.split("\n")[0], "origin,hour,actual,mean,p90");
          assert.equal(csv.trim().split("\n").length, 1 + t.origins * 24);
          assert.match(csv, t.sample);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
      if (t.minHistory === 7 * 24) continue;
      test(`${t.file} from 7 days of history: auto <= snaive-week, p90 covers 85-95%`, async () => {
        const r = await backtestTrace({
          input: join(DATA, t.file),
          ...t.columns,
          model: "auto",
          minHistory: 7 * 24,
        });
        const auto = r.scores.find((s) => s.model === "auto");
        const naive = r.scores.find((s) => s.model === "snaive-week");
        assert.ok(auto && naive);
        assert.ok(auto.wmape <= naive.wmape, `auto ${auto.wmape} vs snaive-week ${naive.wmape}`);
        assert.ok(
          auto.p90Coverage >= 0.85 && auto.p90Coverage <= 0.95,
          `p90 coverage ${auto.p90Coverage}`,
        );
      });
    }
  },
);

test("rowsCsv writes times as written and leaves missing actuals empty", () => {
  const start = Date.parse("1995-07-29T00:00:00Z");
  const csv = rowsCsv(
    [
      { origin: start, hour: start, actual: NaN, mean: 1.234, p90: 2, model: "m" },
      { origin: start, hour: start + 3_600_000, actual: 7, mean: 8, p90: 9.999, model: "m" },
    ],
    { start, zones: ["-04:00", "-04:00"] },
  );
  assert.equal(
    csv,
    "origin,hour,actual,mean,p90\n" +
      "1995-07-29T00:00:00-04:00,1995-07-29T00:00:00-04:00,,1.23,2\n" +
      "1995-07-29T00:00:00-04:00,1995-07-29T01:00:00-04:00,7,8,10\n",
  );
});
