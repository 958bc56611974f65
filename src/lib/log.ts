import { format } from "node:util";

/**
 * One log line per call. On a terminal the message is written as is; anywhere
 * else (a file, journald, a pipe) as a JSON line that log shippers read
 * without parsing text: `{"time","level","component","msg"}`, the component
 * taken from the message's `[component]` prefix. `STRATA_LOG_FORMAT=json|text`
 * overrides the choice.
 */
export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface LogOptions {
  /** @default process.stderr */
  stream?: { write(text: string): unknown; isTTY?: boolean };
  /** @default from STRATA_LOG_FORMAT, else JSON unless the stream is a terminal */
  json?: boolean;
  /** @default () => new Date() */
  now?: () => Date;
  /** Component for messages without a `[component]` prefix. @default "strata" */
  component?: string;
}

export function createLog(options: LogOptions = {}): Log {
  const stream = options.stream ?? process.stderr;
  const env = process.env.STRATA_LOG_FORMAT;
  const json = options.json ?? (env === "json" ? true : env === "text" ? false : !stream.isTTY);
  const now = options.now ?? (() => new Date());
  const write = (
    level: "info" | "error",
    message: string,
    fields: Record<string, unknown> = {},
  ) => {
    if (!json) return void stream.write(message + "\n");
    const prefix = /^\[([a-z-]+)\]\s*/.exec(message);
    const line = {
      time: now().toISOString(),
      level,
      component: prefix?.[1] ?? options.component ?? "strata",
      msg: prefix ? message.slice(prefix[0].length) : message,
      ...fields,
    };
    stream.write(JSON.stringify(line) + "\n");
  };
  return {
    info: (message, fields) => write("info", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

/** Routes console.error and console.warn (used by parts for unexpected errors) through `log`. */
export function routeConsole(log: Log): void {
  console.error = (...args: unknown[]) => log.error(format(...args));
  console.warn = (...args: unknown[]) => log.error(format(...args));
}
