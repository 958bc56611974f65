import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { serve, type ServerType } from "@hono/node-server";
import Database from "better-sqlite3";
import { Command } from "commander";
import { Hono } from "hono";
import { StrataError } from "../../lib/errors.js";
import { trafficRoutes } from "../../server/routes/traffic.js";
import { createSqliteTrafficRepo } from "../../store/sqlite/traffic-repo.js";
import { createMinuteCounter } from "../../traffic/minute-counter.js";
import { syntheticCombinedLog } from "../../traffic/synthetic-log.js";
import type { TrafficRepo } from "../../store/traffic-repo.js";
import { registerIngestCommand, type IngestDocument } from "./ingest.js";

const MIGRATION = readFileSync(
  new URL("../../store/sqlite/migrations/002-traffic.sql", import.meta.url),
  "utf8",
);
const TOKEN = "test-admin-token";
const HOUR = 3_600_000;

describe("strata ingest", () => {
  let dir: string;
  let db: Database.Database;
  let repo: TrafficRepo;
  let server: ServerType;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-ingest-cli-"));
    db = new Database(":memory:");
    db.exec(MIGRATION);
    repo = createSqliteTrafficRepo(db);
    const app = new Hono();
    app.use("/v1/*", async (c, next) => {
      if (c.req.header("authorization") !== `Bearer ${TOKEN}`)
        return c.json({ error: { code: "unauthorized", message: "no" } }, 401);
      await next();
    });
    app.route("/v1", trafficRoutes({ traffic: repo }));
    const host = `127.0.${2 + Math.floor(Math.random() * 248)}.${2 + Math.floor(Math.random() * 248)}`;
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: host, port: 0 }, () => resolve(s));
    });
    url = `http://${host}:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function strata(args: string[], signal?: AbortSignal) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const program = new Command("strata")
      .option("--server <url>")
      .option("--token <token>")
      .exitOverride();
    registerIngestCommand(program, {
      stdout: (t) => stdout.push(t),
      stderr: (t) => stderr.push(t),
      ...(signal ? { signal } : {}),
    });
    await program.parseAsync([
      "node",
      "strata",
      "--server",
      url,
      "--token",
      TOKEN,
      "ingest",
      ...args,
    ]);
    return { stdout: stdout.join(""), stderr: stderr.join("") };
  }
  const json = async (args: string[], signal?: AbortSignal) =>
    JSON.parse((await strata([...args, "--json"], signal)).stdout) as IngestDocument;
  const stored = async (app: string) =>
    (await repo.hourly(app, 0, Date.UTC(2100, 0, 1))).reduce((sum, h) => sum + h.total, 0);

  test("ingests a log once: a re-run, or the same log gzipped, is a duplicate", async () => {
    const truth = createMinuteCounter();
    const text =
      [
        ...syntheticCombinedLog(
          { lines: 20_000, ratePerSecond: 2, seed: 9, start: Date.UTC(2024, 1, 29, 23) },
          truth,
        ),
      ].join("") + "oops\n";
    const path = join(dir, "access.log");
    await writeFile(path, text);
    const first = await json([path, "--app", "shop"]);
    const file = first.files![0]!;
    assert.equal(file.counted, 20_000);
    assert.equal(file.malformed, 1);
    assert.deepEqual(file.samples, [{ line: 20_001, text: "oops" }]);
    assert.equal(file.minutes, truth.size);
    assert.equal(file.first, new Date(truth.toArray()[0]!.minute).toISOString());
    assert.equal(file.upload.duplicate, false);
    assert.ok(file.upload.batches >= 2, "the log spans more than one UTC day");
    assert.deepEqual(await repo.minutes("shop", 0, Date.UTC(2100, 0, 1)), truth.toArray());

    const again = await json([path, "--app", "shop"]);
    assert.equal(again.files![0]!.upload.duplicate, true);
    assert.equal(again.totals.duplicateBatches, file.upload.batches);
    await writeFile(`${path}.1.gz`, gzipSync(text));
    const gz = await json([`${path}.1.gz`, "--app", "shop"]);
    assert.equal(gz.files![0]!.upload.duplicate, true);
    assert.equal(await stored("shop"), 20_000);
  });

  test("human output names the file, the counts and the malformed samples", async () => {
    const path = join(dir, "small.log");
    await writeFile(
      path,
      '1.1.1.1 - - [01/Mar/2024:00:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\nbroken\n',
    );
    const { stdout } = await strata([path, "--app", "human"]);
    assert.match(stdout, /small\.log\s+combined\s+2\s+1\s+1\s+1\s+2024-03-01 00:00/);
    assert.match(stdout, /small\.log:2: malformed: broken/);
  });

  test("a missing file or an unknown format is an error before anything is sent", async () => {
    await assert.rejects(strata([join(dir, "nope.log"), "--app", "x"]), /not_found|nope\.log/);
    await assert.rejects(
      strata([join(dir, "small.log"), "--app", "x", "--format", "w3c"]),
      /--format/,
    );
    assert.equal(await stored("x"), 0);
  });

  test("regression (issue 8 defect 8): a log time out of the UTC range is one malformed line, not an aborted ingest", async () => {
    const good = (s: number) =>
      `1.1.1.1 - - [02/Mar/2024:00:00:${String(s).padStart(2, "0")} +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n`;
    const path = join(dir, "range.log");
    await writeFile(
      path,
      good(1) +
        '1.1.1.1 - - [01/Jan/1970:00:30:00 +0100] "GET / HTTP/1.1" 200 1 "-" "x"\n' +
        good(2) +
        '1.1.1.1 - - [31/Dec/9999:23:30:00 -0100] "GET / HTTP/1.1" 200 1 "-" "x"\n' +
        good(3),
    );
    const doc = await json([path, "--app", "range"]);
    assert.equal(doc.files![0]!.counted, 3);
    assert.equal(doc.files![0]!.malformed, 2);
    assert.deepEqual(
      doc.files![0]!.samples.map((s) => s.line),
      [2, 4],
    );
    assert.equal(await stored("range"), 3);
  });

  test("regression (issue 15 defect 6): a binary file with no valid line is an error naming it and the count, nothing sent; samples escaped", async () => {
    const bin = join(dir, "random.bin");
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 151 + 7) % 256;
    await writeFile(bin, bytes);
    const good = join(dir, "good.log");
    await writeFile(
      good,
      '1.1.1.1 - - [03/Mar/2024:00:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n',
    );
    const lines = bytes.filter((b) => b === 0x0a).length + 1;
    await assert.rejects(
      strata([good, bin, "--app", "binary"]),
      (err: unknown) =>
        err instanceof StrataError &&
        err.code === "bad_request" &&
        err.message.includes("random.bin") &&
        err.message.includes(`all ${lines} lines are malformed`) &&
        ![...err.message].some((ch) => ch.charCodeAt(0) < 0x20 || (ch >= "\x7f" && ch <= "\x9f")),
    );
    assert.equal(await stored("binary"), 0, "the good file before it was not sent either");

    const mixed = join(dir, "mixed.log");
    await writeFile(
      mixed,
      Buffer.concat([await readFile(good), Buffer.from([0x1b, 0x5b, 0xff, 0x0a])]),
    );
    const doc = await json([mixed, "--app", "binary"]);
    assert.deepEqual(doc.files![0]!.samples, [{ line: 2, text: "\\x1b[\\xff" }]);
  });

  test("--counts imports complete hours of a counts CSV, once", async () => {
    const rows = ["timestamp,count,gap"];
    const start = Date.UTC(2024, 0, 1);
    for (let m = 0; m < 180; m += 5) {
      const t = new Date(start + m * 60_000).toISOString().replace("T", " ").slice(0, 19);
      rows.push(`${t}+09:00,${m >= 120 && m < 130 ? "" : 10},${m === 65 ? 1 : 0}`);
    }
    const path = join(dir, "counts.csv");
    await writeFile(path, rows.join("\n") + "\n");
    const args = [
      "--counts",
      path,
      "--app",
      "csv",
      "--time-column",
      "timestamp",
      "--value-column",
      "count",
      "--missing-column",
      "gap",
    ];
    const doc = await json(args);
    assert.equal(doc.counts!.hours, 1);
    assert.equal(doc.counts!.incompleteHours, 2);
    const hours = await repo.hourly("csv", 0, Date.UTC(2100, 0, 1));
    // Wall clock 00:00+09:00 is 15:00 UTC the day before.
    assert.deepEqual(hours, [
      { hour: start - 9 * HOUR, total: 120, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, minutes: 60 },
    ]);
    assert.equal((await json(args)).counts!.upload.duplicate, true);
    assert.equal(await stored("csv"), 120);
  });

  test("--follow sends new lines as they come and resumes at the checkpoint", async () => {
    const path = join(dir, "live.log");
    const line = (s: number) =>
      `2.2.2.2 - - [01/Mar/2024:00:00:${String(s).padStart(2, "0")} +0000] "GET /${s} HTTP/1.1" 200 1 "-" "x"\n`;
    await writeFile(path, line(1) + line(2));
    const run = async (until: number) => {
      const abort = new AbortController();
      const watch = setInterval(async () => {
        if ((await stored("live")) >= until) abort.abort();
      }, 20);
      try {
        return await json(
          [path, "--app", "live", "--follow", "--poll-interval", "20ms"],
          abort.signal,
        );
      } finally {
        clearInterval(watch);
      }
    };
    const first = await run(2);
    assert.equal(first.follow![0]!.counted, 2);
    await appendFile(path, line(3));
    const second = await run(3);
    assert.equal(second.follow![0]!.counted, 1, "resumed after the two lines sent before");
    assert.equal(await stored("live"), 3);
  });
});
