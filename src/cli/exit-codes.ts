import type { ErrorCode } from "../lib/errors.js";

/**
 * The CLI's exit codes; docs/cli.md documents them and scripts rely on them.
 * A command that ran but whose operation failed (a deployment rolled back, a
 * bake failed) exits FAILED; anything the user must change before trying again
 * (a flag, a name, a config file) exits USAGE.
 */
export const EXIT = {
  /** Done as asked. */
  OK: 0,
  /** The operation ran and failed: a deployment failed or rolled back, a bake failed, a conflict. */
  FAILED: 1,
  /** Usage or invalid input: unknown command or option, a bad value, an invalid strata.yaml, a name that does not exist. */
  USAGE: 2,
  /** The control plane cannot be reached, or refused the token. */
  UNAVAILABLE: 3,
  /** Stopped by SIGINT (128 + 2, as shells report it). */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Exit code for a StrataError's code. */
export function exitCodeOf(code: ErrorCode): ExitCode {
  switch (code) {
    case "bad_request":
    case "invalid_config":
    case "not_found":
      return EXIT.USAGE;
    case "unavailable":
    case "unauthorized":
      return EXIT.UNAVAILABLE;
    default:
      return EXIT.FAILED;
  }
}
