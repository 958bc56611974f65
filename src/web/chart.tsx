import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartProps {
  /** Built once per chart; a change of `key` builds a new chart. */
  options: (width: number) => uPlot.Options;
  data: uPlot.AlignedData;
  /** The x range shown, in seconds; the chart follows it when it changes. */
  range?: { min: number; max: number } | undefined;
  /** Called when the user drags across the chart (zoom): the range selected, in seconds. */
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

  useEffect(() => {
    const el = box.current!;
    const base = latest.current.options(el.clientWidth || 800);
    // A drag selects a range; the owner decides the new range and the chart follows it.
    // (uPlot's own drag zoom fires its setScale hook in a microtask, for our own setScale
    // calls too, so reacting there feeds back.)
    const opts: uPlot.Options = {
      ...base,
      height: latest.current.height ?? base.height,
      cursor: { ...base.cursor, drag: { x: true, y: false, setScale: false } },
      hooks: {
        ...base.hooks,
        setSelect: [
          ...(base.hooks?.setSelect ?? []),
          (u) => {
            const { left, width } = u.select;
            if (width > 2 && latest.current.onRange) {
              const min = u.posToVal(left, "x");
              const max = u.posToVal(left + width, "x");
              if (max > min) latest.current.onRange({ min, max });
            }
            if (width > 0) u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
      },
    };
    const u = new uPlot(opts, latest.current.data, el);
    plot.current = u;
    follow(u, latest.current.range);
    // Only a change of width resizes, once per frame: a resize that changes the page's
    // height must not feed back into another (a scrollbar coming and going spins forever).
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const width = el.clientWidth;
        if (width > 0 && Math.abs(width - u.width) > 1) u.setSize({ width, height: u.height });
      });
    });
    observer.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(props.data, false);
    follow(u, props.range);
  }, [props.data, props.range?.min, props.range?.max]);

  return <div class={`chart ${props.class ?? ""}`} ref={box} role="img" aria-label={props.label} />;
}

function follow(u: uPlot, range: { min: number; max: number } | undefined): void {
  if (range) u.setScale("x", range);
  else u.setScale("x", { min: u.data[0][0] ?? 0, max: u.data[0][u.data[0].length - 1] ?? 1 });
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
