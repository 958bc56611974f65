import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StrataError } from "../../lib/errors.js";
import { createCountsCsvReader, type CountsCsvOptions } from "./counts-reader.js";
import { splitCsvLine } from "./csv-line.js";
import { readCountsCsv, readCountsCsvFile } from "./read-counts-csv.js";
import { formatWallTime, parseTimestamp } from "./wall-time.js";

const DATA = fileURLToPath(new URL("../../../../shared/data/", import.meta.url));
const HOUR = 3_600_000;

function read(text: string, options: Partial<CountsCsvOptions> = {}) {
  const reader = createCountsCsvReader({ timeColumn: "t", valueColumn: "n", ...options });
  for (const line of text.split("\n")) reader.pushLine(line);
  return reader.end();
}

/** `hours` hours of 5-minute rows from 2024-01-01 00:00, each count from `count(hour, minute)`. */
function fiveMinuteCsv(
  hours: number,
  count: (hour: number, minute: number) => number | string,
): string {
  const lines = ["t,n"];
  for (let h = 0; h < hours; h++) {
    for (let m = 0; m < 60; m += 5) {
      const wall = Date.UTC(2024, 0, 1) + h * HOUR + m * 60_000;
      lines.push(`${new Date(wall).toISOString().slice(0, 19).replace("T", " ")},${count(h, m)}`);
    }
  }
  return lines.join("\n");
}

describe("parseTimestamp", () => {
  const cases: [string, { wall: string; zone: string; instant: string } | undefined][] = [
    [
      "1995-07-01 00:00:00-04:00",
      { wall: "1995-07-01T00:00:00Z", zone: "-04:00", instant: "1995-07-01T04:00:00Z" },
    ],
    [
      "1998-04-30 21:30:00",
      { wall: "1998-04-30T21:30:00Z", zone: "", instant: "1998-04-30T21:30:00Z" },
    ],
    [
      "2024-03-10T08:15:00Z",
      { wall: "2024-03-10T08:15:00Z", zone: "Z", instant: "2024-03-10T08:15:00Z" },
    ],
    [
      "2024-03-10T08:15:00.250+0530",
      { wall: "2024-03-10T08:15:00.250Z", zone: "+05:30", instant: "2024-03-10T02:45:00.250Z" },
    ],
    [
      "2024-03-10T08:15",
      { wall: "2024-03-10T08:15:00Z", zone: "", instant: "2024-03-10T08:15:00Z" },
    ],
    ["804571200", { wall: "1995-07-01T04:00:00Z", zone: "Z", instant: "1995-07-01T04:00:00Z" }],
    ["2024-03-10", { wall: "2024-03-10T00:00:00Z", zone: "", instant: "2024-03-10T00:00:00Z" }],
    [
      "1700000000123",
      { wall: "2023-11-14T22:13:20.123Z", zone: "Z", instant: "2023-11-14T22:13:20.123Z" },
    ],
    ["1970-01-01 00:30:00+01:00", undefined],
    ["-60", undefined],
    ["2023-02-29 00:00:00", undefined],
    ["2024-01-01 24:00:00", undefined],
    ["yesterday", undefined],
    ["", undefined],
  ];
  for (const [text, want] of cases) {
    test(JSON.stringify(text), () => {
      const got = parseTimestamp(text);
      if (!want) return assert.equal(got, undefined);
      assert.ok(got);
      assert.equal(got.wall, Date.parse(want.wall));
      assert.equal(got.instant, Date.parse(want.instant));
      assert.equal(got.zone, want.zone);
    });
  }

  test("formatWallTime writes the offset as written and naive times without one", () => {
    assert.equal(
      formatWallTime(Date.parse("1995-07-29T14:00:00Z"), "-04:00"),
      "1995-07-29T14:00:00-04:00",
    );
    assert.equal(formatWallTime(Date.parse("1998-05-29T00:00:00Z"), ""), "1998-05-29T00:00:00");
  });

  test("splitCsvLine handles quoted fields", () => {
    assert.deepEqual(splitCsvLine('a,"b,c","d ""e""",'), ["a", "b,c", 'd "e"', ""]);
    assert.deepEqual(splitCsvLine("1,2,3"), ["1", "2", "3"]);
  });
});

describe("createCountsCsvReader", () => {
  test("aggregates 5-minute rows into hourly totals of the wall clock as written", () => {
    const lines = ["n,t"];
    for (let m = 0; m < 120; m += 5)
      lines.push(
        `${m < 60 ? 1 : 2},2024-01-01 0${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:00-04:00`,
      );
    const r = read(lines.join("\n"));
    assert.equal(r.stepSeconds, 300);
    assert.equal(r.start, Date.parse("2024-01-01T00:00:00Z"));
    assert.deepEqual(r.totals, [12, 24]);
    assert.deepEqual(r.complete, [true, true]);
    assert.deepEqual(r.values, [12, 24]);
    assert.deepEqual(r.zones, ["-04:00", "-04:00"]);
    assert.equal(r.total, 36);
  });

  test("an hour with an empty, flagged or absent step is missing; its partial sum still counts in totals", () => {
    const csv = fiveMinuteCsv(4, (h, m) => (h === 1 && m === 10 ? "" : 1)).split("\n");
    // Hour 2 loses one row entirely; hour 3 has a flagged row.
    const kept = csv
      .filter((l) => !l.includes(" 02:30:00"))
      .map((l, i) => (i === 0 ? "t,n,out" : `${l},${l.includes(" 03:00:00") ? 1 : 0}`));
    const r = read(kept.join("\n"), { missingColumn: "out" });
    assert.deepEqual(r.complete, [true, false, false, false]);
    assert.deepEqual(r.totals, [12, 11, 11, 11]);
    assert.ok(Number.isNaN(r.values[1] as number) && Number.isNaN(r.values[3] as number));
    assert.equal(r.missingRows, 2);
    assert.equal(r.total, 45);
  });

  test("a partial first hour is missing", () => {
    const csv = [
      "t,n",
      "2024-01-01 00:30:00,5",
      "2024-01-01 00:45:00,5",
      "2024-01-01 01:00:00,5",
      "2024-01-01 01:15:00,5",
      "2024-01-01 01:30:00,5",
      "2024-01-01 01:45:00,5",
    ];
    const r = read(csv.join("\n"));
    assert.equal(r.stepSeconds, 900);
    assert.deepEqual(r.complete, [false, true]);
    assert.deepEqual(r.totals, [10, 20]);
  });

  test("bad lines are counted and skipped with samples", () => {
    const csv = [
      "t,n",
      "2024-01-01 00:00:00,1",
      "not a time,3",
      "2024-01-01 00:02:00,-4",
      "2024-01-01 00:03:00",
      "2024-01-01 00:04:00,x",
      "2024-01-01 00:01:00,2",
    ];
    const r = read(csv.join("\n"), { badSamples: 2 });
    assert.equal(r.badLines, 4);
    assert.equal(r.badSamples.length, 2);
    assert.deepEqual(
      r.badSamples.map((b) => b.line),
      [3, 4],
    );
    assert.match(r.badSamples[0]?.reason ?? "", /timestamp/);
    assert.equal(r.total, 3);
  });

  test("samples of bad lines are escaped", () => {
    const r = read("t,n\n\u001b[2J\u0007,1\n2024-01-01 00:00:00,1");
    assert.equal(r.badSamples[0]?.text, "\\x1b[2J\\x07,1");
    assert.equal(r.badSamples[0]?.reason, 'unparseable timestamp "\\x1b[2J\\x07"');
  });

  test("a header without the named column is an error naming it", () => {
    assert.throws(
      () =>
        read("time,count\n2024-01-01 00:00:00,1", {
          valueColumn: "count",
          timeColumn: "timestamp",
        }),
      (err: unknown) =>
        err instanceof StrataError && err.code === "bad_request" && /"timestamp"/.test(err.message),
    );
    assert.throws(
      () => read("t,n\n2024-01-01,1", { missingColumn: "is_outage" }),
      /missing column "is_outage"/,
    );
  });

  test("a file with no parseable row is an error naming the first bad line", () => {
    assert.throws(
      () => read("t,n\nfoo,1\nbar,2"),
      /no data row parsed \(line 2: unparseable timestamp "foo"\)/,
    );
    assert.throws(() => read(""), /empty/);
  });

  test("a step that does not divide an hour is rejected", () => {
    const csv = [
      "t,n",
      ...Array.from(
        { length: 10 },
        (_, i) => `${new Date(Date.UTC(2024, 0, 1) + i * 7 * 60_000).toISOString()},1`,
      ),
    ];
    assert.throws(() => read(csv.join("\n")), /420 s/);
  });
});

describe("zero-run rule", () => {
  // Busy all day (10 a step = 120 an hour) for 3 days, then 7 hours of exact zeros.
  const busy = (h: number) => (h >= 60 && h < 67 ? 0 : 10);

  test("a long run of zeros where the series is normally busy is missing data", () => {
    const r = read(fiveMinuteCsv(72, busy));
    assert.equal(r.zeroGaps.length, 1);
    assert.equal(r.zeroGaps[0]?.from, "2024-01-03 12:00:00");
    assert.equal(r.zeroGaps[0]?.to, "2024-01-03 18:55:00");
    assert.equal(r.zeroGaps[0]?.expected, 7 * 120);
    for (let h = 0; h < 72; h++) assert.equal(r.complete[h], h < 60 || h >= 67, `hour ${h}`);
  });

  test("zeros where the series is normally (almost) silent stay zeros", () => {
    // Nights are silent every day: 8 zero hours a night are real traffic.
    const r = read(fiveMinuteCsv(72, (h) => (h % 24 < 8 ? 0 : 10)));
    assert.equal(r.zeroGaps.length, 0);
    assert.ok(r.complete.every(Boolean));
  });

  test("a run under an hour stays zeros, and the rule can be turned off", () => {
    // 55 minutes of zeros where an hour holds 120: expected 110, but shorter than minHours.
    const short = (h: number, m: number) => (h === 60 && m < 55 ? 0 : 10);
    assert.equal(read(fiveMinuteCsv(72, short)).zeroGaps.length, 0);
    assert.equal(read(fiveMinuteCsv(72, busy), { zeroRun: false }).zeroGaps.length, 0);
  });

  test("a two-hour collection outage in a busy series is missing data (the Twitter traces)", () => {
    const outage = (h: number) => (h === 60 || h === 61 ? 0 : 10);
    const r = read(fiveMinuteCsv(72, outage));
    assert.equal(r.zeroGaps.length, 1);
    assert.equal(r.zeroGaps[0]?.expected, 240);
    assert.equal(r.complete.filter((c) => !c).length, 2);
  });
});

describe("readCountsCsv", () => {
  test("reads chunks, CRLF and gzip the same", async () => {
    const text = fiveMinuteCsv(3, () => 2).replaceAll("\n", "\r\n");
    const plain = await readCountsCsv([text.slice(0, 50), text.slice(50)], {
      timeColumn: "t",
      valueColumn: "n",
    });
    const zipped = await readCountsCsv([gzipSync(Buffer.from(text))], {
      timeColumn: "t",
      valueColumn: "n",
    });
    assert.deepEqual(plain.totals, [24, 24, 24]);
    assert.deepEqual(zipped.totals, plain.totals);
  });

  test("readCountsCsvFile names the file in errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-counts-"));
    try {
      const path = join(dir, "trace.csv");
      await writeFile(path, "a,b\n1,2\n");
      await assert.rejects(
        readCountsCsvFile(path, { timeColumn: "t", valueColumn: "b" }),
        (err: unknown) => {
          return (
            err instanceof StrataError && err.message.includes(path) && err.message.includes('"t"')
          );
        },
      );
      await assert.rejects(
        readCountsCsvFile(join(dir, "nope.csv"), { timeColumn: "t", valueColumn: "b" }),
        /not_found|ENOENT/,
      );
      const gz = join(dir, "cut.csv.gz");
      const zipped = gzipSync(Buffer.from(fiveMinuteCsv(30, () => 1)));
      await writeFile(gz, zipped.subarray(0, zipped.length - 20));
      await assert.rejects(
        readCountsCsvFile(gz, { timeColumn: "t", valueColumn: "n" }),
        (err: unknown) =>
          err instanceof StrataError && err.message.includes(gz) && /truncated/.test(err.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("real traces", { skip: !existsSync(DATA) && `no ${DATA}` }, () => {
  test("NASA: totals 3,461,570; outage rows and the July zero gap are missing", async () => {
    const r = await readCountsCsvFile(join(DATA, "nasa_traffic_5m.csv"), {
      timeColumn: "timestamp",
      valueColumn: "request_count",
      missingColumn: "is_outage",
    });
    assert.equal(r.total, 3_461_570);
    assert.equal(
      r.totals.reduce((a, b) => a + b, 0),
      3_461_570,
    );
    assert.equal(r.missingRows, 453);
    assert.equal(r.badLines, 0);
    assert.deepEqual(
      r.zeroGaps.map((g) => [g.from, g.to]),
      [["1995-07-28 13:35:00-04:00", "1995-07-31 23:55:00-04:00"]],
    );
    const idx = (iso: string) => (Date.parse(iso) - r.start) / HOUR;
    assert.equal(r.complete[idx("1995-07-28T12:00:00Z")], true);
    assert.equal(r.complete[idx("1995-07-28T13:00:00Z")], false);
    assert.equal(r.complete[idx("1995-07-31T23:00:00Z")], false);
    assert.equal(r.complete[idx("1995-08-01T00:00:00Z")], true);
    assert.equal(r.complete[idx("1995-08-01T14:00:00Z")], false);
    // 83 hours of zero gap + 39 hours touched by the outage.
    assert.equal(r.complete.filter((c) => !c).length, 122);
    assert.equal(r.zones[0], "-04:00");
  });

  test("World Cup 98: totals 1,352,804,107; absent minutes make their hours missing", async () => {
    const r = await readCountsCsvFile(join(DATA, "worldcup98_1m.csv"), {
      timeColumn: "period",
      valueColumn: "count",
    });
    assert.equal(r.total, 1_352_804_107);
    assert.equal(r.stepSeconds, 60);
    assert.equal(r.zeroGaps.length, 0);
    assert.equal(r.zones[0], "");
    // The partial first hour (21:30) and the 4 hours holding the 10 absent minutes.
    assert.equal(r.complete.filter((c) => !c).length, 5);
    assert.equal(r.complete[(Date.parse("1998-05-17T06:00:00Z") - r.start) / HOUR], false);
  });
});
