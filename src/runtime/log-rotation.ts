import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
} from "node:fs";
import { dirname } from "node:path";

/** How a log file on a server is bounded: `<file>`, then `<file>.1` (newest) to `<file>.<keep>`. */
export interface LogRotation {
  /** Beyond this size the file is rotated. @default 10 MiB */
  maxBytes: number;
  /** Rotated files kept beside the live one. @default 3 */
  keep: number;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/**
 * Rotates `file` when it is larger than `maxBytes`: shifts `.1`..`.keep-1`
 * up one, copies the file to `.1` and truncates it. Copy and truncate, not
 * rename: a writer holding an append-mode descriptor (the app) keeps writing
 * to the live file, at its new end. Lines written between the copy and the
 * truncate are lost (a window of one copy). Returns whether it rotated; a
 * missing file is no error. Calls must not overlap for one file.
 */
export function rotateIfLarge(file: string, rotation: LogRotation): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= rotation.maxBytes) return false;
  rmSync(`${file}.${rotation.keep}`, { force: true });
  for (let n = rotation.keep - 1; n >= 1; n--) {
    try {
      renameSync(`${file}.${n}`, `${file}.${n + 1}`);
    } catch {
      // not there yet
    }
  }
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}

/** The files of a rotated log, oldest first (only those that exist). */
export function rotatedFiles(file: string, keep: number): string[] {
  const files: string[] = [];
  for (let n = keep; n >= 1; n--) files.push(`${file}.${n}`);
  files.push(file);
  return files.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * A line writer on a rotated file, for the agent's own log: appends each
 * line, and checks the size every `checkEvery` bytes written. Never throws
 * (a log that cannot be written must not stop the agent).
 */
export function createRotatingWriter(
  file: string,
  rotation: LogRotation = DEFAULT_LOG_ROTATION,
  checkEvery = 64 * 1024,
): (line: string) => void {
  let sinceCheck = Infinity;
  return (line) => {
    try {
      if (sinceCheck >= checkEvery) {
        if (sinceCheck === Infinity) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        rotateIfLarge(file, rotation);
        sinceCheck = 0;
      }
      appendFileSync(file, line.endsWith("\n") ? line : `${line}\n`, { mode: 0o600 });
      sinceCheck += line.length + 1;
    } catch {
      // the root is gone or full: the line still went to stderr
    }
  };
}
