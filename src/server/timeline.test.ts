import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuditEntry } from "../store/store.js";
import { inServiceSeries, mergePlans, plannedFromAudit } from "./timeline.js";

let id = 0;
const entry = (at: number, action: string, subject: string, group = "web"): AuditEntry => ({
  id: ++id,
  at,
  actor: "control-plane",
  action,
  subject,
  detail: action === "server.start" ? {} : { group },
});

describe("servers in service, replayed from the audit log", () => {
  const cases: {
    name: string;
    entries: AuditEntry[];
    from: number;
    to: number;
    want: { time: number[]; count: number[] };
  }[] = [
    {
      name: "nothing in the log: zero over the whole range",
      entries: [],
      from: 100,
      to: 200,
      want: { time: [100, 200], count: [0, 0] },
    },
    {
      name: "servers going in and out step the count",
      entries: [
        entry(110, "server.in_service", "web-1"),
        entry(120, "server.in_service", "web-2"),
        entry(150, "server.out_of_service", "web-1"),
      ],
      from: 100,
      to: 200,
      want: { time: [100, 110, 120, 150, 200], count: [0, 1, 2, 1, 1] },
    },
    {
      name: "history before the range sets the starting count",
      entries: [
        entry(10, "server.in_service", "web-1"),
        entry(20, "server.in_service", "web-2"),
        entry(150, "server.terminate", "web-2"),
      ],
      from: 100,
      to: 200,
      want: { time: [100, 150, 200], count: [2, 1, 1] },
    },
    {
      name: "other groups do not count; a repeated in_service counts once",
      entries: [
        entry(110, "server.in_service", "api-1", "api"),
        entry(120, "server.in_service", "web-1"),
        entry(130, "server.in_service", "web-1"),
      ],
      from: 100,
      to: 200,
      want: { time: [100, 120, 200], count: [0, 1, 1] },
    },
    {
      name: "a control-plane start empties the balancer (membership is in memory)",
      entries: [
        entry(110, "server.in_service", "web-1"),
        entry(140, "server.start", "control-plane"),
        entry(160, "server.in_service", "web-1"),
      ],
      from: 100,
      to: 200,
      want: { time: [100, 110, 140, 160, 200], count: [0, 1, 0, 1, 1] },
    },
    {
      name: "entries after the end are ignored; the log may come newest first",
      entries: [entry(250, "server.in_service", "web-2"), entry(150, "server.in_service", "web-1")],
      from: 100,
      to: 200,
      want: { time: [100, 150, 200], count: [0, 1, 1] },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(inServiceSeries(c.entries, "web", c.from, c.to), c.want);
    });
  }
});

describe("servers planned: past decisions from the audit log, the schedule ahead from the planner", () => {
  const decision = (at: number, planned: number, subject = "web"): AuditEntry => ({
    id: ++id,
    at,
    actor: "control-plane",
    action: "scale.hold",
    subject,
    detail: { planned, target: planned },
  });

  test("no scale entries: no series (the chart says there is no plan yet)", () => {
    assert.equal(
      plannedFromAudit([entry(110, "server.in_service", "web-1")], "web", 100, 200),
      null,
    );
  });

  test("decisions step the plan; one before the range sets its start; other groups do not count", () => {
    const entries = [
      decision(50, 2),
      decision(120, 2),
      decision(130, 4),
      decision(140, 9, "api"),
      decision(250, 7),
    ];
    assert.deepEqual(plannedFromAudit(entries, "web", 100, 200), {
      time: [100, 130],
      count: [2, 4],
    });
  });

  test("the schedule ahead replaces the past from its first step on", () => {
    assert.deepEqual(
      mergePlans({ time: [100, 130, 160], count: [2, 4, 3] }, { time: [150, 180], count: [5, 6] }),
      { time: [100, 130, 150, 180], count: [2, 4, 5, 6] },
    );
    assert.deepEqual(mergePlans(null, { time: [150], count: [5] }), { time: [150], count: [5] });
    assert.equal(mergePlans(null, { time: [], count: [] }), null);
    assert.deepEqual(mergePlans({ time: [100], count: [2] }, null), { time: [100], count: [2] });
  });
});
