import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuditEntry } from "../store/store.js";
import { inServiceSeries } from "./timeline.js";

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
