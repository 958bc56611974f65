import { execFile, spawnSync } from "node:child_process";
import { lchown, lstat, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Clock } from "./clock.js";
import { StrataError, messageOf } from "./errors.js";
import { retry } from "./retry.js";

/** The unprivileged account apps and hooks run as when the agent runs as root. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

/** The account strata creates for apps when none is named. */
export const DEFAULT_APP_USER = "strata-app";

/**
 * Looks the account up in /etc/passwd and, when it is missing and we are root,
 * creates it as a system account without a home or a login shell (useradd).
 * Idempotent; throws StrataError("invalid_config") when the account cannot be
 * found or made.
 */
export async function ensureAppUser(name: string, clock: Clock): Promise<RunAs> {
  const found = await lookUp(name);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new StrataError("invalid_config", `[agent] app user ${name}: no such account`);
  }
  const useradd = async () => {
    if (await lookUp(name)) return; // made meanwhile by a concurrent agent
    await promisify(execFile)("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--home-dir",
      "/nonexistent",
      "--shell",
      "/usr/sbin/nologin",
      name,
    ]);
  };
  try {
    // agents started together race for the lock on /etc/passwd
    await retry(useradd, { clock, retryable: () => true, attempts: 5 });
  } catch (err) {
    if (!(await lookUp(name))) {
      throw new StrataError("invalid_config", `[agent] app user ${name}: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }
  return (await lookUp(name))!;
}

async function lookUp(name: string): Promise<RunAs | null> {
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name && uid && gid) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return null;
}

/** Whether `user` can enter `dir` (every parent folder traversable for it). */
export function canEnter(user: RunAs, dir: string): boolean {
  const probe = spawnSync("/bin/sh", ["-c", 'cd "$1"', "probe", dir], {
    uid: user.uid,
    gid: user.gid,
    stdio: "ignore",
  });
  return probe.status === 0;
}

/**
 * Hands a release folder to the app user (lchown, links not followed), so its
 * hooks can write there as they could before; a no-op when it already owns it.
 */
export async function giveTree(dir: string, user: RunAs): Promise<void> {
  if ((await lstat(dir)).uid === user.uid) return;
  const walk = async (path: string): Promise<void> => {
    await lchown(path, user.uid, user.gid);
    const entries = await readdir(path, { withFileTypes: true });
    for (const entry of entries) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else await lchown(child, user.uid, user.gid);
    }
  };
  await walk(dir);
}
