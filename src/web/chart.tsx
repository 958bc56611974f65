import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartProps {
  /** Built once per chart; a change of `key` builds a new chart. */
  options: (width: number) => uPlot.Options;
  data: uPlot.AlignedData;
  /** The x range shown, in seconds; the chart follows it when it changes. */
  range?: { min: number; max: number } | undefined;
  /** Called when the user drags a new x range (zoom). */
  onRange?: (range: { min: number; max: number }) => void;
  label: string;
  height?: number;
  class?: string;
}

/** A uPlot chart that keeps its instance across data updates, so zoom and hover survive. */
export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const programmatic = useRef(false);

  useEffect(() => {
    const el = box.current!;
    const base = latest.current.options(el.clientWidth || 800);
    const opts: uPlot.Options = {
      ...base,
      height: latest.current.height ?? base.height,
      hooks: {
        ...base.hooks,
        setScale: [
          ...(base.hooks?.setScale ?? []),
          (u, key) => {
            if (key !== "x" || programmatic.current) return;
            const { min, max } = u.scales.x!;
            if (min !== undefined && max !== undefined && min !== null && max !== null)
              latest.current.onRange?.({ min, max });
          },
        ],
      },
    };
    programmatic.current = true;
    const u = new uPlot(opts, latest.current.data, el);
    programmatic.current = false;
    plot.current = u;
    follow(u, latest.current.range, programmatic);
    const observer = new ResizeObserver(() => {
      if (el.clientWidth > 0) u.setSize({ width: el.clientWidth, height: u.height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    programmatic.current = true;
    u.setData(props.data, false);
    programmatic.current = false;
    follow(u, props.range, programmatic);
  }, [props.data, props.range?.min, props.range?.max]);

  return <div class={`chart ${props.class ?? ""}`} ref={box} role="img" aria-label={props.label} />;
}

function follow(
  u: uPlot,
  range: { min: number; max: number } | undefined,
  programmatic: { current: boolean },
): void {
  programmatic.current = true;
  if (range) u.setScale("x", range);
  else u.setScale("x", { min: u.data[0][0] ?? 0, max: u.data[0][u.data[0].length - 1] ?? 1 });
  programmatic.current = false;
}

/** Axis labels in 24-hour time: the date at midnight, the time of day otherwise. */
export function tick(seconds: number): string {
  const d = new Date(seconds * 1000);
  if (d.getHours() === 0 && d.getMinutes() === 0)
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
}

/** The x axis of every time chart: 24-hour labels. */
export const timeAxis: uPlot.Axis = { values: (_u, splits) => splits.map(tick) };
