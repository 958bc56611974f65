import assert from "node:assert/strict";
import { test } from "node:test";
import type { ServerView, StatusView } from "../../wire/server.js";
import { age, naturalCompare, statusTable } from "./fleet.js";

const server = (name: string, heartbeat: string | null): ServerView => ({
  name,
  address: "127.50.1.2",
  group: "web",
  state: "ready",
  release: null,
  version: "1.0.0",
  desired_release: null,
  in_service: true,
  last_heartbeat: heartbeat,
  image: null,
  launched_at: null,
  ready_at: null,
  in_service_at: null,
});

// Issue 15, defect 13: `status` sorted web-10 before web-6 and showed the heartbeat as a timestamp.
test("status sorts names naturally and shows the heartbeat as an age (issue 15, defect 13)", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  const status: StatusView = {
    groups: [],
    servers: [
      server("web-10", "2026-01-01T11:59:57Z"),
      server("web-6", "2026-01-01T11:58:00Z"),
      server("web-1", null),
    ],
  };
  const lines = statusTable(status, now).split("\n");
  assert.deepEqual(
    lines.slice(1).map((l) => l.split(/\s+/)[0]),
    ["web-1", "web-6", "web-10"],
  );
  assert.match(lines[0]!, /HEARTBEAT$/);
  assert.match(lines[2]!, /2m ago$/);
  assert.match(lines[3]!, /3s ago$/);
  assert.match(lines[1]!, /-$/);
  assert.ok(naturalCompare("api-2", "web-1") < 0);
  assert.deepEqual(
    [age(450), age(59_999), age(3_600_000), age(2 * 86_400_000)],
    ["450ms", "59s", "1h", "2d"],
  );
});
