/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests
 * and tools that check what `/metrics` serves: it throws on any line a
 * Prometheus server would reject, and checks each histogram's buckets.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const familyOf = (sample: string): MetricFamily | undefined =>
    families.get(sample) ?? families.get(sample.replace(/_(bucket|sum|count)$/, ""));
  text.split("\n").forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${line}`);
    };
    if (line.trim() === "") return;
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const family = families.get(name) ?? { name, type: "untyped", help: "", samples: [] };
      if (kind === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest))
          fail("unknown type");
        if (family.samples.length > 0) fail("TYPE after samples");
        family.type = rest as MetricFamily["type"];
      } else family.help = rest;
      families.set(name, family);
      return;
    }
    if (line.startsWith("#")) return;
    const m = SAMPLE.exec(line) ?? fail("not a sample");
    const [, name, labelText, valueText] = m as unknown as [
      string,
      string,
      string | undefined,
      string,
    ];
    const labels: Record<string, string> = {};
    if (labelText) {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < labelText.length) {
        const l = LABEL.exec(labelText) ?? fail("bad labels");
        if (l[1]! in labels) fail(`label ${l[1]} twice`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        if (l[3] === "") break;
      }
    }
    const value =
      valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    if (valueText !== "NaN" && Number.isNaN(value)) fail("bad value");
    const family = familyOf(name) ?? fail("sample without a TYPE");
    family.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    const inf = buckets.find((b) => b.labels.le === "+Inf");
    if (!inf || !count || !samples.some((s) => s.name === `${f.name}_sum`))
      throw new Error(`${f.name}: a series lacks +Inf, _sum or _count`);
    if (inf.value !== count.value) throw new Error(`${f.name}: +Inf bucket != _count`);
    const ordered = buckets.map((b) => [Number(b.labels.le), b.value] as const);
    for (let i = 1; i < ordered.length; i++) {
      if (ordered[i]![0] <= ordered[i - 1]![0] || ordered[i]![1] < ordered[i - 1]![1])
        throw new Error(`${f.name}: buckets not increasing`);
    }
  }
}

/** Sum of the samples named `name` whose labels include `match`. */
export function total(
  families: Map<string, MetricFamily>,
  name: string,
  match: Record<string, string> = {},
): number {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
  return (family?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
