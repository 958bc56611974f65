import type { MinuteCounter } from "./minute-counter.js";

/**
 * Deterministic nginx `combined` access-log lines for benchmarks and tests:
 * the same seed gives the same bytes on every machine.
 */
export interface SyntheticLogOptions {
  /** Lines to generate. */
  lines: number;
  /** First request time, Unix ms. @default 2024-03-01T00:00:00Z */
  start?: number;
  /** Mean requests per second; times advance by 1 / rate on average. @default 50 */
  ratePerSecond?: number;
  /** Zone the times are written in, minutes east of UTC. @default 540 (+0900) */
  zoneMinutes?: number;
  /** Distinct client addresses. @default 20000 */
  clients?: number;
  /** PRNG seed. @default 1 */
  seed?: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const METHODS = ["GET", "GET", "GET", "GET", "POST", "HEAD", "PUT"];
const PATHS = [
  "/",
  "/index.html",
  "/api/v1/items?page=2&sort=price",
  "/static/app.3f9a1c.js",
  "/static/style.css",
  "/images/logo.png",
  "/login",
  "/search?q=spring+sale",
  "/products/12345",
  "/cart",
];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
  "curl/8.5.0",
  "Googlebot/2.1 (+http://www.google.com/bot.html)",
];
const REFERERS = ["-", "https://www.example.com/", "https://www.google.com/search?q=shop"];
// Weighted toward 2xx like a real site: 200 x14, 304 x3, 301, 404 x2, 500, 503.
const STATUSES = [
  200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 304, 304, 304, 301, 404,
  404, 500, 503,
];

/** mulberry32: a small, fast, well-mixed 32-bit PRNG. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Formats a CLF time (`01/Mar/2024:09:00:00 +0900`) of `ms` written in a zone `zoneMinutes` east of UTC. */
export function formatClfTime(ms: number, zoneMinutes: number): string {
  const d = new Date(ms + zoneMinutes * 60_000);
  const sign = zoneMinutes < 0 ? "-" : "+";
  const z = Math.abs(zoneMinutes);
  return (
    `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ` +
    `${sign}${pad(Math.floor(z / 60))}${pad(z % 60)}`
  );
}

/**
 * Yields the log in chunks of whole lines (about 1 MiB each) and adds every
 * request to `truth`, so callers can check a reader against it.
 */
export function* syntheticCombinedLog(
  options: SyntheticLogOptions,
  truth?: MinuteCounter,
): Generator<string> {
  const random = createRandom(options.seed ?? 1);
  const zone = options.zoneMinutes ?? 540;
  const meanGapMs = 1000 / (options.ratePerSecond ?? 50);
  let t = options.start ?? Date.UTC(2024, 2, 1);
  let chunk: string[] = [];
  let size = 0;
  let lastSecond = -1;
  let timeText = "";
  const clients = Array.from(
    { length: options.clients ?? 20_000 },
    () =>
      `${10 + Math.floor(random() * 200)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
  );
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  for (let n = 0; n < options.lines; n++) {
    t += random() * 2 * meanGapMs;
    const second = Math.floor(t / 1000);
    if (second !== lastSecond) {
      timeText = formatClfTime(second * 1000, zone);
      lastSecond = second;
    }
    // Squaring skews the pick toward a few busy clients, as on a real site.
    const ip = clients[Math.floor(random() * random() * clients.length)]!;
    const status = pick(STATUSES);
    truth?.add(Math.floor(t / 60_000) * 60_000, status);
    const bytes = status === 304 ? 0 : 200 + Math.floor(random() * 50_000);
    const line = `${ip} - - [${timeText}] "${pick(METHODS)} ${pick(PATHS)} HTTP/1.1" ${status} ${bytes} "${pick(REFERERS)}" "${pick(AGENTS)}"\n`;
    chunk.push(line);
    size += line.length;
    if (size >= 1 << 20) {
      yield chunk.join("");
      chunk = [];
      size = 0;
    }
  }
  if (chunk.length > 0) yield chunk.join("");
}
