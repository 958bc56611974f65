import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate, traceFromText } from "./simulate.js";

/**
 * Three days of 5-minute rows at 300 requests (1 req/s) with one step of 1200 (4 req/s) at
 * day 3, 12:00. With --peak-servers 4: C = 4 / (4 x 0.7) req/s, so 1 req/s needs 1 server
 * and the spike 4. Day 1 is history (min history 1 day); days 2 and 3 are scored.
 */
function spikeTrace(missingHourOfDay2?: number): string {
  const rows = ["timestamp,count,gone"];
  const t0 = Date.UTC(2024, 0, 1);
  for (let i = 0; i < 3 * 288; i++) {
    const t = new Date(t0 + i * 300_000);
    const spike = i === 2 * 288 + 12 * 12;
    const gone =
      missingHourOfDay2 !== undefined && Math.floor((i - 288) / 12) === missingHourOfDay2;
    rows.push(
      `${t.toISOString().slice(0, 19).replace("T", " ")},${spike ? 1200 : 300},${gone ? 1 : 0}`,
    );
  }
  return rows.join("\n") + "\n";
}

const columns = { timeColumn: "timestamp", valueColumn: "count", missingColumn: "gone" };
const DAY = 86_400_000;

describe("simulate (hand-computed)", () => {
  it("scores static, reactive and oracle on a single spike", async () => {
    const trace = traceFromText(spikeTrace(), columns, "spike");
    const run = await simulate(trace, {
      policies: ["static", "reactive", "oracle"],
      peakServers: 4,
      lagMs: 600_000,
      minHistoryMs: DAY,
    });
    assert.equal(run.report.evaluated_minutes, 2 * 1440);
    const by = Object.fromEntries(run.report.policies.map((p) => [p.policy, p]));
    // static: the peak need, 4 servers, for 48 hours.
    assert.deepEqual(by.static, {
      policy: "static",
      server_hours: 192,
      under_server_minutes: 0,
      overload_minutes: 0,
      actions: 0,
    });
    // oracle: 1 server; 3 more launched at 11:50 (one lag ahead), retired at 12:05.
    assert.deepEqual(by.oracle, {
      policy: "oracle",
      server_hours: 48 + (3 * 15) / 60,
      under_server_minutes: 0,
      overload_minutes: 0,
      actions: 2,
    });
    // reactive: sees the spike at 12:05 (5 overloaded minutes, 3 servers short each), launches
    // 3 then, and retires them at 12:15 once the 5-minute stabilisation lets it.
    assert.deepEqual(by.reactive, {
      policy: "reactive",
      server_hours: 48 + (3 * 10) / 60,
      under_server_minutes: 15,
      overload_minutes: 5,
      actions: 2,
    });
  });

  it("skips missing hours in every score", async () => {
    const trace = traceFromText(spikeTrace(6), columns, "spike");
    const run = await simulate(trace, { policies: ["static"], peakServers: 4, minHistoryMs: DAY });
    assert.equal(run.report.evaluated_minutes, 2 * 1440 - 60);
    assert.equal(run.report.policies[0]!.server_hours, 4 * 47);
  });

  it("sums a 1-minute trace into 5-minute steps", () => {
    const rows = ["t,n"];
    for (let m = 0; m < 60; m++)
      rows.push(`2024-01-01 00:${String(m).padStart(2, "0")}:00,${m < 5 ? m + 1 : 2}`);
    const trace = traceFromText(rows.join("\n"), { timeColumn: "t", valueColumn: "n" });
    assert.deepEqual([...trace.counts.slice(0, 2)], [1 + 2 + 3 + 4 + 5, 10]);
    assert.equal(trace.missing[0], 0);
  });

  it("refuses a trace coarser than 5 minutes", () => {
    const rows = ["t,n", "2024-01-01 00:00:00,1", "2024-01-01 01:00:00,2", "2024-01-01 02:00:00,3"];
    assert.throws(
      () => traceFromText(rows.join("\n"), { timeColumn: "t", valueColumn: "n" }),
      /5 minutes or finer/,
    );
  });
});
