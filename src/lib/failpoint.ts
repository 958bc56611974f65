import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Fault injection for the kill tests (etcd's gofail habit): when
 * `STRATA_FAILPOINT` names this point, the process SIGKILLs itself here, once
 * per `dir` (a marker file keeps the restarted process from dying again).
 * Does nothing otherwise; production never sets the variable.
 */
export function failpoint(name: string, dir: string): void {
  if (process.env.STRATA_FAILPOINT !== name) return;
  const marker = join(dir, `.failpoint-${name}`);
  if (existsSync(marker)) return;
  writeFileSync(marker, `${process.pid}\n`);
  process.kill(process.pid, "SIGKILL");
}
