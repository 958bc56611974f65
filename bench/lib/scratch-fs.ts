import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ScratchFs {
  /** Where to put the bench's files: the mount point, or the host's temp folder. */
  dir: string;
  /** What `dir` is, for the report. */
  describe: string;
  /** Unmounts and deletes the file system (nothing for the host's folder). Idempotent. */
  close(): Promise<void>;
}

/** Whether the file system holding `dir` is ext4 without a journal (ext4 then delays reusing freed inodes). */
export function isJournallessExt4(dir: string): boolean {
  try {
    const device = execFileSync("findmnt", ["-n", "-o", "SOURCE,FSTYPE", "--target", dir], {
      encoding: "utf8",
    })
      .trim()
      .split(/\s+/);
    if (device[1] !== "ext4") return false;
    const name = device[0]!.replace(/^\/dev\//, "");
    return readFileSync(`/sys/fs/ext4/${name}/journal_task`, "utf8").trim() === "<none>";
  } catch {
    return false;
  }
}

/**
 * A journaled ext4 of `sizeGiB` (sparse: it takes what is written) on a
 * loop device, mounted for the bench: what a VM's disk usually is. Needs
 * root. With `kind: "host"`, the host's temp folder as it is.
 */
export async function scratchFs(kind: "journaled-ext4" | "host", sizeGiB = 40): Promise<ScratchFs> {
  if (kind === "host") {
    const journalless = isJournallessExt4(tmpdir());
    return {
      dir: tmpdir(),
      describe: `the host's ${tmpdir()}${journalless ? " (ext4 without a journal)" : ""}`,
      close: async () => undefined,
    };
  }
  const holder = await mkdtemp(join("/var/tmp", "strata-bench-fs-"));
  const image = join(holder, "fs.img");
  const mount = join(holder, "mnt");
  const run = (file: string, args: string[]) => execFileSync(file, args, { stdio: "pipe" });
  try {
    run("truncate", ["-s", `${sizeGiB}G`, image]);
    // Inode tables and journal written now, not by a kernel thread during the bench.
    run("mkfs.ext4", ["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", image]);
    run("mkdir", [mount]);
    run("mount", ["-o", "loop", image, mount]);
    await chmod(holder, 0o711);
    await chmod(mount, 0o711); // the apps' and the Capistrano hosts' accounts pass through
  } catch (err) {
    try {
      run("umount", [mount]);
    } catch {
      // not mounted
    }
    await rm(holder, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `a journaled ext4 for the bench (needs root, mkfs.ext4, a loop device): ${stderr || err}`,
    );
  }
  // Memoized: the bench's signal handler and its finally block may both close it.
  let closing: Promise<void> | null = null;
  return {
    dir: mount,
    describe: `a journaled ext4 of ${sizeGiB} GiB on a loop device (mkfs.ext4 defaults)`,
    close: () =>
      (closing ??= (async () => {
        try {
          run("umount", [mount]);
        } catch {
          run("umount", ["-l", mount]);
        }
        await rm(holder, { recursive: true, force: true });
      })()),
  };
}
