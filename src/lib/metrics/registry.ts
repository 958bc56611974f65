/**
 * A small metrics registry that renders the Prometheus text exposition format
 * (version 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Counters and histograms are kept here; gauges are collected at scrape time.
 */
export type Labels = Readonly<Record<string, string>>;

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export interface MetricsRegistry {
  counter(name: string, help: string): Counter;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  /** A gauge whose samples `collect` returns at each scrape. */
  gauge(name: string, help: string, collect: () => Promise<[Labels, number][]>): void;
  /** The whole exposition, families in registration order. */
  render(): Promise<string>;
}

export function createMetricsRegistry(): MetricsRegistry {
  const families: Family[] = [];
  const gauges = new Map<string, () => Promise<[Labels, number][]>>();
  const gaugeSamples = new Map<string, [Labels, number][]>();
  return {
    counter(name, help) {
      const values = new Map<string, { labels: Labels; value: number }>();
      families.push({
        name,
        help,
        type: "counter",
        render: () => [...values.values()].map((v) => sample(name, v.labels, v.value)),
      });
      return {
        inc(labels = {}, by = 1) {
          const key = labelText(labels);
          const entry = values.get(key) ?? { labels, value: 0 };
          entry.value += by;
          values.set(key, entry);
        },
      };
    },
    histogram(name, help, buckets) {
      const series = new Map<
        string,
        { labels: Labels; counts: number[]; sum: number; count: number }
      >();
      families.push({
        name,
        help,
        type: "histogram",
        render: () =>
          [...series.values()].flatMap((s) => [
            ...buckets.map((le, i) =>
              sample(`${name}_bucket`, { ...s.labels, le: String(le) }, s.counts[i]!),
            ),
            sample(`${name}_bucket`, { ...s.labels, le: "+Inf" }, s.count),
            sample(`${name}_sum`, s.labels, s.sum),
            sample(`${name}_count`, s.labels, s.count),
          ]),
      });
      return {
        observe(labels, value) {
          const key = labelText(labels);
          const s = series.get(key) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
          buckets.forEach((le, i) => {
            if (value <= le) s.counts[i]!++;
          });
          s.sum += value;
          s.count++;
          series.set(key, s);
        },
      };
    },
    gauge(name, help, collect) {
      gauges.set(name, collect);
      families.push({
        name,
        help,
        type: "gauge",
        render: () => (gaugeSamples.get(name) ?? []).map(([labels, v]) => sample(name, labels, v)),
      });
    },
    async render() {
      for (const [name, collect] of gauges) gaugeSamples.set(name, await collect());
      const lines: string[] = [];
      for (const f of families) {
        lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
        lines.push(`# TYPE ${f.name} ${f.type}`);
        lines.push(...f.render());
      }
      return lines.join("\n") + "\n";
    },
  };
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return pairs.length > 0 ? `{${pairs.join(",")}}` : "";
}

function sample(name: string, labels: Labels, value: number): string {
  const text = Number.isFinite(value)
    ? String(value)
    : value > 0
      ? "+Inf"
      : value < 0
        ? "-Inf"
        : "NaN";
  return `${name}${labelText(labels)} ${text}`;
}
