import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../lib/clock.js";
import { BoundedOutput } from "../lib/process.js";
import { hookArgv, runHook, type RunHookOptions } from "./hooks.js";
import { isAlive, waitFor } from "../lib/test-support.js";

describe("runHook", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-hooks-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const hook = (command: string, extra: Partial<RunHookOptions> = {}) =>
    runHook({
      command,
      cwd: dir,
      env: { STRATA_HOOK: "before_switch", GREETING: "hi" },
      timeoutMs: 30_000,
      clock: systemClock,
      ...extra,
    });

  test("builds a shell argv", () => {
    assert.deepEqual(hookArgv("echo a && echo b"), ["/bin/sh", "-c", "echo a && echo b"]);
  });

  test("reports exit codes and captures stdout and stderr, in the release folder", async () => {
    const ok = await hook('echo "out $GREETING"; echo err >&2; pwd');
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.timedOut, false);
    assert.match(ok.output, /out hi/);
    assert.match(ok.output, /err/);
    assert.ok(ok.output.includes(dir));
    const failed = await hook("echo partial; exit 7");
    assert.equal(failed.exitCode, 7);
    assert.match(failed.output, /partial/);
  });

  test("passes the app env but not the agent's own STRATA_* variables", async () => {
    process.env.STRATA_JOIN_TOKEN = "secret-join-token";
    try {
      const result = await hook("env");
      assert.match(result.output, /^GREETING=hi$/m);
      assert.match(result.output, /^STRATA_HOOK=before_switch$/m);
      assert.ok(!result.output.includes("secret-join-token"));
    } finally {
      delete process.env.STRATA_JOIN_TOKEN;
    }
  });

  test("a timeout terminates the hook", async () => {
    const result = await hook("sleep 60", { timeoutMs: 200 });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, "SIGTERM");
  });

  test("stopping kills the whole process group, with SIGKILL when SIGTERM is ignored", async () => {
    const pidFile = join(dir, "child.pid");
    const controller = new AbortController();
    const running = hook(
      `trap '' TERM; sleep 60 & echo $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; wait`,
      {
        signal: controller.signal,
        killGraceMs: 200,
      },
    );
    const child = await waitFor("the hook's child", () =>
      readFile(pidFile, "utf8").then(Number, () => 0),
    );
    controller.abort();
    const result = await running;
    assert.equal(result.timedOut, false);
    assert.equal(result.signal, "SIGKILL");
    assert.equal(isAlive(child), false, "the hook's background child is gone too");
  });

  test("background leftovers of a hook that exited are killed", async () => {
    const pidFile = join(dir, "leftover.pid");
    const result = await hook(`sleep 60 & echo $! > ${pidFile}; exit 0`);
    assert.equal(result.exitCode, 0);
    // The group is signalled when the hook exits; the leftover dies (and is reaped) right after.
    const pid = Number(await readFile(pidFile, "utf8"));
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(isAlive(pid), false);
  });

  test("abort terminates the hook", async () => {
    const controller = new AbortController();
    const running = hook("sleep 60", { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const result = await running;
    assert.equal(result.signal, "SIGTERM");
  });

  test("output is bounded to its head and tail", async () => {
    const result = await hook(
      "echo FIRST-LINE; i=0; while [ $i -lt 4000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; echo LAST-LINE",
      { maxOutputBytes: 4096 },
    );
    assert.equal(result.exitCode, 0);
    assert.ok(result.output.startsWith("FIRST-LINE\n"));
    assert.ok(result.output.trimEnd().endsWith("LAST-LINE"));
    assert.match(result.output, /\[\.\.\. \d+ bytes omitted \.\.\.\]/);
    assert.ok(
      Buffer.byteLength(result.output) < 4096 + 100,
      `${Buffer.byteLength(result.output)} bytes`,
    );
  });
});

describe("BoundedOutput", () => {
  test("keeps everything below the limit", () => {
    const out = new BoundedOutput(10);
    out.append(Buffer.from("abc"));
    out.append(Buffer.from("de"));
    assert.equal(out.toString(), "abcde");
  });

  test("keeps head and tail across chunk boundaries and counts the rest", () => {
    const out = new BoundedOutput(8);
    for (const chunk of ["ab", "cdef", "ghij", "k", "lmnop"]) out.append(Buffer.from(chunk));
    assert.equal(out.toString(), "abcd\n[... 8 bytes omitted ...]\nmnop");
  });
});
