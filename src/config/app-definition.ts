import { parse } from "yaml";
import { ConfigError, messageOf } from "../lib/errors.js";

/**
 * An app's `strata.yaml`: how the agent starts, checks and hooks one release.
 * It travels inside the artifact, so each release carries its own definition.
 * docs/app-definition.md documents every key and default.
 */
export interface AppDefinition {
  /** argv of the app; a string in the file becomes `["/bin/sh", "-c", string]`. */
  readonly start: readonly string[];
  /** @default 8080 */
  readonly port: number;
  readonly health: HealthDefinition;
  readonly hooks: Readonly<Partial<Record<HookName, HookDefinition>>>;
  /** @default 5 */
  readonly keepReleases: number;
  /** @default {} */
  readonly env: Readonly<Record<string, string>>;
  /** @default 10000 */
  readonly stopTimeoutMs: number;
}

export interface HealthDefinition {
  /** @default "/" */
  readonly path: string;
  /** @default 200 */
  readonly status: number;
  /** Per-try timeout. @default 2000 */
  readonly timeoutMs: number;
  /** Tries after the first one. @default 30 */
  readonly retries: number;
  /** @default 200 */
  readonly intervalMs: number;
}

export const HOOK_NAMES = ["before_switch", "after_switch", "on_success", "on_failure"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface HookDefinition {
  /** Run by `/bin/sh -c` in the release folder. */
  readonly command: string;
  /** @default 60000 */
  readonly timeoutMs: number;
}

const TOP_KEYS = ["start", "port", "health", "hooks", "keep_releases", "env", "stop_timeout"];
const HEALTH_KEYS = ["path", "status", "timeout", "retries", "interval"];
const RESERVED_ENV = /^(HOST|PORT|STRATA_.*)$/;

type Fail = (key: string, problem: string) => never;

/** Parses and validates `text`; `source` names the file in errors. Throws ConfigError naming the key. */
export function parseAppDefinition(text: string, source: string): AppDefinition {
  const fail: Fail = (key, problem) => {
    throw new ConfigError(key, `[config] ${source}: ${key}: ${problem}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError("(document)", `[config] ${source}: invalid YAML: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const top = mapping(doc, "(document)", TOP_KEYS, fail);
  const health = mapping(top.health ?? {}, "health", HEALTH_KEYS, fail);
  const hooks = mapping(top.hooks ?? {}, "hooks", HOOK_NAMES, fail);
  const env = mapping(top.env ?? {}, "env", null, fail);

  if (top.start === undefined) fail("start", "is required (a command string or an argv list)");
  const definition: AppDefinition = {
    start: command(top.start, "start", fail),
    port: integer(top.port ?? 8080, "port", 1, 65535, fail),
    health: {
      path: healthPath(health.path ?? "/", fail),
      status: integer(health.status ?? 200, "health.status", 100, 599, fail),
      timeoutMs: duration(health.timeout ?? 2000, "health.timeout", fail),
      retries: integer(health.retries ?? 30, "health.retries", 0, 10_000, fail),
      intervalMs: duration(health.interval ?? 200, "health.interval", fail, true),
    },
    hooks: Object.fromEntries(
      Object.entries(hooks).map(([name, value]) => [name, hook(value, `hooks.${name}`, fail)]),
    ),
    keepReleases: integer(top.keep_releases ?? 5, "keep_releases", 1, 1000, fail),
    env: Object.fromEntries(
      Object.entries(env).map(([name, value]) => {
        const key = `env.${name}`;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(key, "is not a valid variable name");
        if (RESERVED_ENV.test(name)) fail(key, "is reserved (the agent sets it)");
        if (typeof value !== "string") fail(key, `must be a string (quote it), got ${kind(value)}`);
        return [name, value];
      }),
    ),
    stopTimeoutMs: duration(top.stop_timeout ?? 10_000, "stop_timeout", fail),
  };
  return deepFreeze(definition);
}

/** Milliseconds of "500ms", "2s", "1.5m", "1h" or a plain number of milliseconds. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!match) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(match[1]) * unit);
}

function mapping(
  value: unknown,
  key: string,
  allowed: readonly string[] | null,
  fail: Fail,
): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(key, `must be a mapping, got ${kind(value)}`);
  }
  const record = value as Record<string, unknown>;
  const prefix = key === "(document)" ? "" : `${key}.`;
  for (const name of Object.keys(record)) {
    if (allowed && !allowed.includes(name)) {
      fail(`${prefix}${name}`, `unknown key (expected one of: ${allowed.join(", ")})`);
    }
  }
  return record;
}

function command(value: unknown, key: string, fail: Fail): string[] {
  if (typeof value === "string" && value.trim() !== "") return ["/bin/sh", "-c", value];
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((part) => typeof part === "string" && part !== "")
  ) {
    return value as string[];
  }
  return fail(key, `must be a command string or a non-empty list of strings, got ${kind(value)}`);
}

function hook(value: unknown, key: string, fail: Fail): HookDefinition {
  if (typeof value === "string") return { command: nonEmpty(value, key, fail), timeoutMs: 60_000 };
  const record = mapping(value, key, ["command", "timeout"], fail);
  return {
    command: nonEmpty(record.command, `${key}.command`, fail),
    timeoutMs: duration(record.timeout ?? 60_000, `${key}.timeout`, fail),
  };
}

function nonEmpty(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== "string" || value.trim() === "") {
    fail(key, `must be a non-empty command string, got ${kind(value)}`);
  }
  return value;
}

function healthPath(value: unknown, fail: Fail): string {
  if (typeof value !== "string" || !value.startsWith("/")) {
    fail("health.path", `must be a path starting with "/", got ${kind(value)}`);
  }
  return value;
}

function integer(value: unknown, key: string, min: number, max: number, fail: Fail): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(key, `must be an integer from ${min} to ${max}, got ${kind(value)}`);
  }
  return value;
}

function duration(value: unknown, key: string, fail: Fail, allowZero = false): number {
  const ms = parseDuration(value);
  if (ms === null || (ms === 0 && !allowZero)) {
    fail(
      key,
      `must be a ${allowZero ? "" : "positive "}duration like 500ms, 2s, 1m or a number of milliseconds, got ${kind(value)}`,
    );
  }
  return ms;
}

function kind(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
