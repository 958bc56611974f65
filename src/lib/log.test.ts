import assert from "node:assert/strict";
import { test } from "node:test";
import { createLog } from "./log.js";

function sink(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (t: string) => lines.push(t) } };
}

test("logs are JSON lines when not on a terminal, plain text on one", () => {
  const now = () => new Date("2026-01-01T00:00:00Z");
  const piped = sink(false);
  const log = createLog({ stream: piped.stream, now, component: "server" });
  log.info("[agent] joined http://127.50.0.1:7700 as web-1");
  log.error('line with "quotes"\nand a newline', { deployment: "d-1" });
  assert.deepEqual(
    piped.lines.map((l) => JSON.parse(l)),
    [
      {
        time: "2026-01-01T00:00:00.000Z",
        level: "info",
        component: "agent",
        msg: "joined http://127.50.0.1:7700 as web-1",
      },
      {
        time: "2026-01-01T00:00:00.000Z",
        level: "error",
        component: "server",
        msg: 'line with "quotes"\nand a newline',
        deployment: "d-1",
      },
    ],
  );
  assert.ok(piped.lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n")));

  const tty = sink(true);
  createLog({ stream: tty.stream }).info("[agent] joined");
  assert.deepEqual(tty.lines, ["[agent] joined\n"]);
  const forced = sink(true);
  createLog({ stream: forced.stream, json: true }).info("x");
  assert.equal(JSON.parse(forced.lines[0]!).msg, "x");
});
