import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StrataError } from "../../lib/errors.js";
import { createLineParser } from "./create-line-parser.js";
import { newParsedLine, type LogFormatOption } from "./line-parser.js";

function parse(format: LogFormatOption, line: string) {
  const parser = createLineParser(format);
  const out = newParsedLine();
  const buf = Buffer.from(`xx${line}yy`); // the line sits inside a larger buffer, as in a read chunk
  if (!parser(buf, 2, buf.length - 2, out)) return null;
  return { time: new Date(out.minute).toISOString(), status: out.status, format: out.format };
}

const COMBINED =
  '203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';
const COMMON = '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 -';
const LTSV =
  "host:127.0.0.1\tident:-\tuser:-\ttime:[10/Oct/2000:13:55:36 -0700]\treq:GET / HTTP/1.1\tstatus:503\tsize:0";
const JSON_LINE = '{"@timestamp":"2000-10-10T13:55:36-07:00","status":301,"uri":"/"}';

describe("combined and common", () => {
  test("combined: time in UTC, status, shape", () => {
    assert.deepEqual(parse("combined", COMBINED), {
      time: "2000-10-10T20:55:00.000Z",
      status: 200,
      format: "combined",
    });
  });
  test("common: a '-' byte count and no referer", () => {
    assert.deepEqual(parse("common", COMMON), {
      time: "2000-10-10T20:55:00.000Z",
      status: 404,
      format: "common",
    });
  });
  test("a quote inside the request does not end it", () => {
    const apache =
      '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a\\" 200 1 HTTP/1.1" 502 10 "-" "-"';
    assert.equal(parse("combined", apache)?.status, 502);
    const nginx =
      '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a\\x22 200 1 HTTP/1.1" 418 10 "-" "-"';
    assert.equal(parse("combined", nginx)?.status, 418);
  });
  test("IPv6 hosts and user names", () => {
    const line =
      '2001:db8::1 - alice [10/Oct/2000:13:55:36 +0000] "POST /x HTTP/2.0" 201 5 "-" "curl"';
    assert.equal(parse("combined", line)?.status, 201);
  });
  test("the date cache does not carry a bad time from one line to the next", () => {
    const parser = createLineParser("combined");
    const out = newParsedLine();
    const lines = [
      '1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
      '1.1.1.1 - - [10/Oct/2000:25:55:36 -0700] "GET / HTTP/1.1" 200 1',
      '1.1.1.1 - - [10/Oct/2000:13:56:00 +0100] "GET / HTTP/1.1" 200 1',
      '1.1.1.1 - - [10/Oct/2000:13:56:00 -07:0] "GET / HTTP/1.1" 200 1',
    ];
    const results = lines.map((l) =>
      parser(Buffer.from(l), 0, l.length, out) ? out.minute : null,
    );
    assert.deepEqual(results, [
      Date.UTC(2000, 9, 10, 20, 55),
      null,
      Date.UTC(2000, 9, 10, 12, 56),
      null,
    ]);
  });
  for (const bad of [
    "",
    "garbage",
    '1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1"',
    '1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 20 1',
    '1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 2000 1',
    '1.1.1.1 - - [10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.1" 200 1',
    '1.1.1.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1',
    ' - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
  ]) {
    test(`malformed: ${JSON.stringify(bad).slice(0, 60)}`, () =>
      assert.equal(parse("combined", bad), null));
  }
});

describe("LTSV", () => {
  test("CLF time in brackets", () => {
    assert.deepEqual(parse("ltsv", LTSV), {
      time: "2000-10-10T20:55:00.000Z",
      status: 503,
      format: "ltsv",
    });
  });
  test("ISO time, fields in any order, time_iso8601 label", () => {
    assert.deepEqual(parse("ltsv", "status:204\ttime_iso8601:2000-10-11T05:55:36+09:00\thost:x"), {
      time: "2000-10-10T20:55:00.000Z",
      status: 204,
      format: "ltsv",
    });
  });
  test("`time` wins over other time labels", () => {
    const line = "timestamp:1999-01-01T00:00:00Z\ttime:2000-10-10T20:55:00Z\tstatus:200";
    assert.equal(parse("ltsv", line)?.time, "2000-10-10T20:55:00.000Z");
  });
  for (const bad of [
    "time:[10/Oct/2000:13:55:36 -0700]",
    "status:200",
    "time:nope\tstatus:200",
    "time:2000-10-10T20:55:00Z\tstatus:20x",
    "a b c",
  ]) {
    test(`malformed: ${JSON.stringify(bad)}`, () => assert.equal(parse("ltsv", bad), null));
  }
});

describe("JSON lines", () => {
  test("@timestamp and numeric status", () => {
    assert.deepEqual(parse("json", JSON_LINE), {
      time: "2000-10-10T20:55:00.000Z",
      status: 301,
      format: "json",
    });
  });
  test("time field variants and status variants", () => {
    const cases: [string, number][] = [
      ['{"time":"10/Oct/2000:13:55:36 -0700","status":"404"}', 404],
      ['{"timestamp":"2000-10-10T20:55:36Z","status_code":500}', 500],
      ['{"ts":971211336.5,"statusCode":302}', 302],
      ['{"ts":"971211336","http_status":200}', 200],
      ['{"time":971211336000,"http":{"response":{"status_code":201}}}', 201],
    ];
    for (const [line, status] of cases) {
      assert.deepEqual(
        parse("json", line),
        { time: "2000-10-10T20:55:00.000Z", status, format: "json" },
        line,
      );
    }
  });
  for (const bad of [
    '{"time":"2000-10-10T20:55:36Z"}',
    '{"status":200}',
    "[1,2]",
    "{oops",
    '{"time":"yesterday","status":200}',
    '{"time":true,"status":200}',
    '"x"',
  ]) {
    test(`malformed: ${bad}`, () => assert.equal(parse("json", bad), null));
  }
});

describe("auto", () => {
  test("reads every format", () => {
    for (const [line, format] of [
      [COMBINED, "combined"],
      [COMMON, "common"],
      [LTSV, "ltsv"],
      [JSON_LINE, "json"],
    ]) {
      assert.equal(parse("auto", line!)?.format, format);
    }
  });
  test("switches format when the lines do, and back", () => {
    const parser = createLineParser("auto");
    const out = newParsedLine();
    const seen = [COMBINED, JSON_LINE, JSON_LINE, LTSV, COMBINED, "junk"].map((l) =>
      parser(Buffer.from(l), 0, Buffer.byteLength(l), out) ? out.format : null,
    );
    assert.deepEqual(seen, ["combined", "json", "json", "ltsv", "combined", null]);
  });
  test("an explicit format does not read other formats", () => {
    assert.equal(parse("combined", JSON_LINE), null);
    assert.equal(parse("json", COMBINED), null);
    assert.equal(parse("ltsv", COMBINED), null);
  });
  test("unknown format names are rejected", () => {
    assert.throws(
      () => createLineParser("apache" as LogFormatOption),
      (err) => err instanceof StrataError && err.code === "bad_request",
    );
  });
});
