import assert from "node:assert/strict";
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { systemClock } from "../lib/clock.js";
import { hashRecipe, provisionArgv, runProvision } from "./recipe.js";

describe("hashRecipe", () => {
  let work = "";
  let n = 0;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-recipe-"));
  });
  after(() => rm(work, { recursive: true, force: true }));

  async function recipe(): Promise<string> {
    const dir = join(work, `r${n++}`);
    await mkdir(join(dir, "etc", "nginx"), { recursive: true });
    await writeFile(join(dir, "etc", "nginx", "nginx.conf"), "worker_processes 1;\n");
    await writeFile(join(dir, "provision.sh"), "echo hi\n");
    await chmod(join(dir, "provision.sh"), 0o644);
    return dir;
  }

  test("is a sha256 id and the same for a copy with other timestamps", async () => {
    const a = await recipe();
    const b = join(work, `copy${n++}`);
    await cp(a, b, { recursive: true });
    await utimes(join(b, "provision.sh"), new Date(0), new Date(0));
    const hash = await hashRecipe(a);
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await hashRecipe(b), hash);
  });

  const changes: [string, (dir: string) => Promise<void>][] = [
    [
      "a file's content",
      (dir) => writeFile(join(dir, "etc", "nginx", "nginx.conf"), "worker_processes 2;\n"),
    ],
    ["a file's mode", (dir) => chmod(join(dir, "provision.sh"), 0o755)],
    [
      "a rename",
      (dir) =>
        rename(join(dir, "etc", "nginx", "nginx.conf"), join(dir, "etc", "nginx", "default.conf")),
    ],
    ["a new empty folder", (dir) => mkdir(join(dir, "var"))],
    ["a new symlink", (dir) => symlink("etc/nginx/nginx.conf", join(dir, "nginx.conf"))],
    [
      "content moved between files",
      async (dir) => {
        await writeFile(join(dir, "a"), "xy");
        await writeFile(join(dir, "b"), "");
        const before = await hashRecipe(dir);
        await writeFile(join(dir, "a"), "x");
        await writeFile(join(dir, "b"), "y");
        assert.notEqual(await hashRecipe(dir), before);
      },
    ],
  ];
  for (const [what, change] of changes) {
    test(`changes with ${what}`, async () => {
      const dir = await recipe();
      const before = await hashRecipe(dir);
      await change(dir);
      assert.notEqual(await hashRecipe(dir), before);
    });
  }

  test("rejects a missing folder", async () => {
    await assert.rejects(hashRecipe(join(work, "missing")), { code: "not_found" });
  });
});

describe("runProvision", () => {
  let work = "";
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-provision-"));
  });
  after(() => rm(work, { recursive: true, force: true }));

  test("runs the script with /bin/sh", () => {
    assert.deepEqual(provisionArgv("/r/provision.sh"), ["/bin/sh", "/r/provision.sh"]);
  });

  test("runs in cwd with the given env, without the control plane's STRATA_ secrets", async () => {
    const script = join(work, "env.sh");
    await writeFile(
      script,
      'echo "cwd=$(pwd) image=$IMAGE_NAME token=${STRATA_TOKEN:-none}"\nexit 4\n',
    );
    process.env.STRATA_TOKEN = "secret";
    try {
      const result = await runProvision({
        script,
        cwd: work,
        env: { IMAGE_NAME: "web" },
        timeoutMs: 10_000,
        clock: systemClock,
      });
      assert.equal(result.exitCode, 4);
      assert.equal(result.timedOut, false);
      assert.equal(result.output.trim(), `cwd=${work} image=web token=none`);
    } finally {
      delete process.env.STRATA_TOKEN;
    }
  });

  test("kills a script that runs too long, children included, and keeps its output", async () => {
    const script = join(work, "slow.sh");
    await writeFile(script, "echo before\nsleep 60 &\nsleep 60\n");
    const result = await runProvision({
      script,
      cwd: work,
      env: {},
      timeoutMs: 200,
      clock: systemClock,
      killGraceMs: 200,
    });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.match(result.output, /before/);
  });
});
