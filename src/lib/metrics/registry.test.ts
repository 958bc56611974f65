import assert from "node:assert/strict";
import { test } from "node:test";
import { parseExposition, total } from "./exposition.js";
import { createMetricsRegistry } from "./registry.js";

test("the registry renders the text exposition format: counters, histograms, gauges, escaped labels", async () => {
  const registry = createMetricsRegistry();
  const c = registry.counter("x_total", "a counter");
  c.inc({ path: 'a"b\\c\nd' });
  c.inc({ path: 'a"b\\c\nd' }, 2);
  const h = registry.histogram("x_seconds", "a histogram", [0.1, 1]);
  h.observe({ step: "fetch" }, 0.05);
  h.observe({ step: "fetch" }, 0.5);
  h.observe({ step: "fetch" }, 5);
  registry.gauge("x_servers", "a gauge", async () => [[{ state: "ready" }, 3]]);
  const text = await registry.render();
  assert.match(text, /^# HELP x_total a counter\n# TYPE x_total counter\n/);
  const families = parseExposition(text);
  assert.equal(families.get("x_total")!.samples[0]!.labels.path, 'a"b\\c\nd');
  assert.equal(total(families, "x_total"), 3);
  assert.equal(total(families, "x_seconds_bucket", { le: "0.1" }), 1);
  assert.equal(total(families, "x_seconds_bucket", { le: "1" }), 2);
  assert.equal(total(families, "x_seconds_count"), 3);
  assert.equal(total(families, "x_seconds_sum"), 5.55);
  assert.equal(total(families, "x_servers", { state: "ready" }), 3);
  assert.throws(() => parseExposition("x 1\n"), /sample without a TYPE/);
  assert.throws(() => parseExposition("# TYPE x counter\nx{a=b} 1\n"), /bad labels/);
});
