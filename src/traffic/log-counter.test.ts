import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogCounter } from "./log-counter.js";
import { createMinuteCounter } from "./minute-counter.js";
import { createRandom, syntheticCombinedLog } from "./synthetic-log.js";

const line = (time: string, status: number) =>
  `1.2.3.4 - - [${time}] "GET / HTTP/1.1" ${status} 10 "-" "ua"\n`;

describe("log counter", () => {
  test("counts per UTC minute and status class, whatever the chunk boundaries", () => {
    const truth = createMinuteCounter();
    const text = [...syntheticCombinedLog({ lines: 5000, ratePerSecond: 20 }, truth)].join("");
    const bytes = Buffer.from(text);
    const random = createRandom(7);
    for (const maxChunk of [1, 7, 100, 4096, bytes.length]) {
      const counter = createLogCounter({ format: "combined" });
      for (let pos = 0; pos < bytes.length;) {
        const size = 1 + Math.floor(random() * maxChunk);
        counter.write(bytes.subarray(pos, pos + size));
        pos += size;
      }
      counter.end();
      assert.deepEqual(counter.counts.toArray(), truth.toArray(), `chunks up to ${maxChunk} bytes`);
      assert.equal(counter.stats.counted, 5000);
      assert.equal(counter.consumed, bytes.length);
    }
  });

  test("status classes: 1xx and odd codes count in total only", () => {
    const counter = createLogCounter();
    for (const status of [100, 200, 204, 301, 404, 499, 500, 599, 999, 0]) {
      counter.write(
        Buffer.from(line("01/Mar/2024:00:00:10 +0000", status).replace(" 0 10", " 000 10")),
      );
    }
    counter.end();
    assert.deepEqual(counter.counts.toArray(), [
      { minute: Date.UTC(2024, 2, 1), total: 10, s2xx: 2, s3xx: 1, s4xx: 2, s5xx: 2 },
    ]);
  });

  test("the same instant written in different zones lands in one minute", () => {
    const counter = createLogCounter();
    counter.write(
      Buffer.from(
        line("01/Mar/2024:09:00:05 +0900", 200) +
          line("29/Feb/2024:19:00:59 -0500", 200) +
          '{"time":"2024-03-01T00:00:30Z","status":200}\n' +
          "time:2024-03-01T05:30:00+05:30\tstatus:200\n",
      ),
    );
    counter.end();
    assert.deepEqual(counter.counts.toArray(), [
      { minute: Date.UTC(2024, 2, 1), total: 4, s2xx: 4, s3xx: 0, s4xx: 0, s5xx: 0 },
    ]);
    assert.deepEqual(counter.stats.formats, { combined: 2, json: 1, ltsv: 1 });
    assert.equal(counter.stats.first, Date.UTC(2024, 2, 1));
  });

  test("malformed lines are counted with samples and line numbers; blank lines and CRLF are fine", () => {
    const counter = createLogCounter({ maxSamples: 2 });
    const good = line("01/Mar/2024:00:00:10 +0000", 200);
    counter.write(
      Buffer.from(`${good}bad one\r\n\r\n${good.replace("\n", "\r\n")}bad\x01two\nbad three\n`),
    );
    counter.end();
    assert.equal(counter.stats.lines, 5);
    assert.equal(counter.stats.counted, 2);
    assert.equal(counter.stats.malformed, 3);
    assert.deepEqual(counter.stats.samples, [
      { line: 2, text: "bad one" },
      { line: 5, text: "bad\\x01two" },
    ]);
  });

  test("a partial last line waits for its newline, or for end()", () => {
    const counter = createLogCounter();
    const good = line("01/Mar/2024:00:00:10 +0000", 200);
    counter.write(Buffer.from(good + good.slice(0, 20)));
    assert.equal(counter.stats.counted, 1);
    assert.equal(counter.consumed, good.length);
    counter.write(Buffer.from(good.slice(20, -1)));
    assert.equal(counter.stats.counted, 1);
    counter.end();
    assert.equal(counter.stats.counted, 2);
    assert.equal(counter.consumed, 2 * good.length - 1);
  });

  test("an over-long line is one malformed line and is not buffered whole", () => {
    const counter = createLogCounter({ maxLineBytes: 1000 });
    const good = line("01/Mar/2024:00:00:10 +0000", 200);
    counter.write(Buffer.from(good));
    for (let i = 0; i < 10; i++) counter.write(Buffer.alloc(500, 0x41));
    counter.write(Buffer.from("\n" + good));
    counter.end();
    assert.equal(counter.stats.counted, 2);
    assert.equal(counter.stats.malformed, 1);
    assert.match(counter.stats.samples[0]!.text, /longer than 1000 bytes/);
  });

  test("random bytes never throw and good lines around them still count", () => {
    const random = createRandom(3);
    const noise = Buffer.alloc(200_000);
    for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(random() * 256);
    for (const format of ["auto", "combined", "ltsv", "json"] as const) {
      const counter = createLogCounter({ format });
      const good = Buffer.from(line("01/Mar/2024:00:00:10 +0000", 200));
      counter.write(good);
      counter.write(noise);
      counter.write(Buffer.from("\n"));
      counter.write(good);
      counter.end();
      if (format === "auto" || format === "combined")
        assert.equal(counter.stats.counted, 2, format);
      assert.equal(counter.stats.lines, counter.stats.counted + counter.stats.malformed);
      assert.ok(counter.stats.malformed > 0);
    }
  });
});
