import * as z from "zod/mini";
import {
  absentIfNull,
  described,
  duration,
  integer,
  mapping,
  strictMapping,
  text,
} from "./mini-fields.js";
import { parseDocument } from "./parse.js";
import { kind } from "./problems.js";
import { parseSize, SIZE_HINT } from "../lib/size.js";
import { sharedPathProblem } from "../runtime/shared-files.js";

/**
 * An app's `strata.yaml`: how the agent starts, checks and hooks one release.
 * It travels inside the artifact, so each release carries its own definition.
 * docs/app-definition.md explains it; docs/config.md lists every key, generated
 * from the schema below.
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
  /** How app.log is rotated on the server. @default { maxBytes: 10 MiB, keep: 3 } */
  readonly log: { readonly maxBytes: number; readonly keep: number };
  /** Paths kept across releases in the server root's `shared/`, linked into each release. @default [] */
  readonly shared: readonly string[];
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

const RESERVED_ENV = /^(HOST|PORT|STRATA_.*)$/;
const HOOK_TIMEOUT = "60s";

type TransformCtx = Parameters<Parameters<typeof z.transform>[0]>[1];

function command(value: unknown, ctx: TransformCtx): string[] {
  if (typeof value === "string" && value.trim() !== "") return ["/bin/sh", "-c", value];
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((part) => typeof part === "string" && part !== "")
  ) {
    return value as string[];
  }
  ctx.issues.push({
    code: "custom",
    input: value,
    message:
      value === undefined
        ? "is required (a command string or an argv list)"
        : `must be a command string or a non-empty list of strings, got ${kind(value)}`,
  });
  return z.NEVER;
}

const HOOK_DESCRIPTIONS: Record<HookName, string> = {
  before_switch: "Runs after unpack and validation; failing, the deploy fails and nothing changes.",
  after_switch: "Runs after `current` points at the new release; failing, the agent switches back.",
  on_success: "Runs after the new release passed its health check.",
  on_failure: "Runs after a failure from `before_switch` on, once the rollback is done.",
};

/** A hook: a command string, or `{ command, timeout }`. */
const hook = (name: HookName) =>
  described(
    z.optional(
      z.pipe(
        z.pipe(
          z.transform((value: unknown) => (typeof value === "string" ? { command: value } : value)),
          strictMapping(
            {
              command: text("a non-empty command string"),
              timeout: duration({ fallback: HOOK_TIMEOUT, bareUnit: "ms", description: "" }),
            },
            "a command string or a mapping {command, timeout}",
          ),
        ),
        z.transform((h): HookDefinition => ({ command: h.command, timeoutMs: h.timeout })),
      ),
    ),
    {
      type: "string or {command, timeout}",
      default: "none",
      description: `${HOOK_DESCRIPTIONS[name]} Run by \`/bin/sh -c\` in the release folder; \`timeout\` (a duration) defaults to \`${HOOK_TIMEOUT}\`.`,
    },
  );

const envName = z.string().check(
  z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "is not a valid variable name" }),
  z.refine((name: string) => !RESERVED_ENV.test(name), {
    error: "is reserved (the agent sets it)",
  }),
);

const sharedPath = z.string({ error: (i) => `must be a path string, got ${kind(i.input)}` }).check(
  z.superRefine((path: string, ctx) => {
    const problem = sharedPathProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: `${path} ${problem}`, input: path });
  }),
);

const healthPathError = (issue: { input?: unknown }) =>
  `must be a path starting with "/", got ${kind(issue.input)}`;

/** The schema of an app's strata.yaml (docs/config.md is generated from it). */
export const appDefinitionSchema = z.pipe(
  strictMapping({
    start: described(z.pipe(z.unknown(), z.transform(command)), {
      type: "string or list of strings",
      default: "(required)",
      description:
        "How to start the app, in the release folder. A string runs through `/bin/sh -c`; a list is an argv run as is.",
    }),
    port: integer(1, 65535, 8080, "The port the app listens on; the agent passes it as `PORT`."),
    health: mapping({
      path: described(
        z.prefault(
          z.string({ error: healthPathError }).check(z.startsWith("/", { error: healthPathError })),
          "/",
        ),
        {
          type: "path starting with /",
          description: "Path the agent GETs on `http://$HOST:$PORT`.",
        },
      ),
      status: integer(100, 599, 200, "The status that means healthy. Redirects are not followed."),
      timeout: duration({
        fallback: "2s",
        bareUnit: "ms",
        description: "Longest wait for one answer.",
      }),
      retries: integer(
        0,
        10_000,
        30,
        "Tries after the first one: the check fails after `1 + retries` tries.",
      ),
      interval: duration({
        fallback: "200ms",
        min: 0,
        bareUnit: "ms",
        description: "Pause between tries.",
      }),
    }),
    hooks: mapping({
      before_switch: hook("before_switch"),
      after_switch: hook("after_switch"),
      on_success: hook("on_success"),
      on_failure: hook("on_failure"),
    }),
    keep_releases: integer(
      1,
      1000,
      5,
      "Releases kept on disk, by most recent activation. The current and the previous release are always kept.",
    ),
    env: described(
      z.pipe(
        absentIfNull(),
        z.prefault(
          z.record(
            envName,
            z.string({ error: (i) => `must be a string (quote it), got ${kind(i.input)}` }),
          ),
          {},
        ),
      ),
      {
        type: "mapping of string to string",
        default: "`{}`",
        description:
          "Extra environment of the app and its hooks. Values must be strings (quote numbers). `HOST`, `PORT` and `STRATA_*` are reserved.",
      },
    ),
    shared: described(
      z.pipe(
        absentIfNull(),
        z.prefault(
          z.array(sharedPath, { error: (i) => `must be a list of paths, got ${kind(i.input)}` }),
          [],
        ),
      ),
      {
        type: "list of relative paths",
        default: "`[]`",
        description:
          "Files and folders (a trailing `/`) kept across releases, like Capistrano's linked_files and linked_dirs: they live in the server root's `shared/` and are linked into each release before its hooks run, e.g. `[log/, tmp/uploads/, config/master.key]`. Relative to the release, no `..`.",
      },
    ),
    stop_timeout: duration({
      fallback: "10s",
      bareUnit: "ms",
      description:
        "After SIGTERM, how long the app may take to finish requests in flight before its process group gets SIGKILL.",
    }),
    log: mapping({
      max_size: described(
        z.prefault(
          z.pipe(
            z.unknown(),
            z.transform((value, ctx) => {
              const bytes = parseSize(value);
              if (bytes !== null && bytes >= 1024) return bytes;
              ctx.issues.push({
                code: "custom",
                input: value,
                message: `must be ${SIZE_HINT} (at least 1KiB), got ${kind(value)}`,
              });
              return z.NEVER;
            }),
          ),
          "10MiB",
        ),
        {
          type: "size",
          default: "`10MiB`",
          description:
            "Beyond this size (checked every 10 s) `app.log` is copied to `app.log.1` and truncated; older copies shift up.",
        },
      ),
      keep: integer(1, 100, 3, "Rotated copies of `app.log` kept (`app.log.1` is the newest)."),
    }),
  }),
  z.transform((d): AppDefinition => ({
    start: d.start,
    port: d.port,
    health: {
      path: d.health.path,
      status: d.health.status,
      timeoutMs: d.health.timeout,
      retries: d.health.retries,
      intervalMs: d.health.interval,
    },
    hooks: Object.fromEntries(
      Object.entries(d.hooks).filter(([, h]) => h !== undefined),
    ) as AppDefinition["hooks"],
    keepReleases: d.keep_releases,
    env: d.env,
    stopTimeoutMs: d.stop_timeout,
    log: { maxBytes: d.log.max_size, keep: d.log.keep },
    shared: d.shared,
  })),
);

/** Parses and validates `text`; `source` names the file in errors. Throws ConfigError naming the key. */
export function parseAppDefinition(text: string, source: string): AppDefinition {
  return parseDocument(appDefinitionSchema, text, source, { rootKey: "(document)" });
}
