import { z } from "zod";
import { strictMapping } from "../config/fields.js";
import { DURATION_HINT, parseDuration } from "../lib/duration.js";
import { parseSize, SIZE_HINT } from "../lib/size.js";

/** The control plane's `ops:` section: `strata logs` and `strata exec`. */
export interface OpsSettings {
  /** A server whose agent sends nothing for this long fails its task. @default 15000 */
  idleTimeoutMs: number;
  /** Output of `strata exec` kept per server. @default 65536 */
  maxExecOutputBytes: number;
}

export const DEFAULT_OPS: OpsSettings = Object.freeze({
  idleTimeoutMs: 15_000,
  maxExecOutputBytes: 64 * 1024,
});

export const opsConfigSchema = strictMapping({
  idle_timeout: z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) >= 1000, `expected ${DURATION_HINT}, at least 1s`)
    .optional()
    .meta({
      description:
        "a `strata logs` or `strata exec` task fails when its server's agent sends nothing (not even its keepalive, every third of this) for this long",
      default: "`15s`",
    }),
  max_exec_output: z
    .string()
    .refine((v) => {
      const bytes = parseSize(v);
      return bytes !== null && bytes >= 1024 && bytes <= 1024 * 1024;
    }, `expected ${SIZE_HINT}, from 1KiB to 1MiB`)
    .optional()
    .meta({
      description:
        "output of `strata exec` kept per server: half from the start, half from the end",
      default: "`64KiB`",
    }),
});

/** The validated section as settings; defaults for what is absent. */
export function opsSettings(raw: z.infer<typeof opsConfigSchema> | undefined): OpsSettings {
  return {
    idleTimeoutMs: parseDuration(raw?.idle_timeout) ?? DEFAULT_OPS.idleTimeoutMs,
    maxExecOutputBytes: parseSize(raw?.max_exec_output) ?? DEFAULT_OPS.maxExecOutputBytes,
  };
}
