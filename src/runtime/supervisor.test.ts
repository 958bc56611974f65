import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../lib/clock.js";
import { parseAppDefinition } from "../config/app-definition.js";
import { createSupervisor, type AppSpec } from "./supervisor.js";
import { stopOrphan } from "../lib/process.js";
import { isAlive, waitFor } from "../lib/test-support.js";

describe("supervisor", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-supervisor-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const spec = (yaml: string): AppSpec => ({
    releaseId: `sha256:${"a".repeat(64)}`,
    version: "v7",
    dir,
    definition: parseAppDefinition(yaml, "test/strata.yaml"),
    host: "127.0.0.9",
  });
  const lines = async (file: string) =>
    (await readFile(join(dir, file), "utf8").catch(() => "")).split("\n").filter(Boolean);

  test("rotates app.log by the release's log: settings and tells listeners of each crash (issue 15)", async () => {
    const logFile = join(dir, "rotating.log");
    const supervisor = createSupervisor({
      logFile,
      clock: systemClock,
      restartBaseMs: 20,
      logCheckMs: 20,
    });
    const exits: (number | null)[] = [];
    supervisor.onExit((exit) => exits.push(exit.code));
    // Prints 2 KiB, exits 4; the log is checked every 20 ms against max_size 1KiB.
    const start = `head -c 2048 /dev/zero | tr '\\0' x; echo; exit 4`;
    await supervisor.start(
      spec(`start: ${JSON.stringify(start)}\nlog: { max_size: 1KiB, keep: 2 }\n`),
    );
    await waitFor("two rotations", async () =>
      readFile(`${logFile}.2`, "utf8").then(
        () => true,
        () => false,
      ),
    );
    await supervisor.stop();
    assert.ok(exits.length >= 2 && exits.every((code) => code === 4), String(exits));
    await assert.rejects(readFile(`${logFile}.3`), "keep: 2");
    assert.match(await readFile(`${logFile}.1`, "utf8"), /x{2048}/);
  });

  test("a stop while a start waits on the app's secrets leaves nothing running (regression: the app outlived its agent)", async () => {
    let answer: (env: Record<string, string>) => void = () => {};
    const pidFile = join(dir, "secrets-race.pid");
    const supervisor = createSupervisor({
      logFile: join(dir, "secrets-race.log"),
      pidFile,
      clock: systemClock,
      secrets: () => new Promise((resolve) => (answer = resolve)),
    });
    const starting = supervisor.start(spec(`start: ["sleep", "60"]\n`));
    await supervisor.stop();
    answer({ KEY: "value" });
    await starting;
    assert.equal(supervisor.pid, null, "no app was launched after the stop");
    assert.equal(supervisor.current, null);
    await assert.rejects(readFile(pidFile, "utf8"), "no pid file written");
  });

  test("an app started before its secrets could be fetched needs no restart when it has none (issue 13: every boot from an image restarted it)", async () => {
    let secrets: Record<string, string> | null = null;
    const supervisor = createSupervisor({
      logFile: join(dir, "recheck.log"),
      clock: systemClock,
      secrets: async () => {
        if (!secrets) throw new Error("not joined yet");
        return secrets;
      },
    });
    await supervisor.start(spec(`start: ["sleep", "60"]\n`));
    assert.equal(supervisor.secretsMissing, true);
    assert.equal(await supervisor.recheckSecrets(), true, "still unknown: still missing");
    secrets = { KEY: "value" };
    assert.equal(await supervisor.recheckSecrets(), true, "there are some: restart it");
    secrets = {};
    assert.equal(await supervisor.recheckSecrets(), false, "none: it runs as it should");
    assert.equal(supervisor.secretsMissing, false);
    await supervisor.stop();
  });

  test("restarts a crashing app with backoff until it stays up, and stops its group", async () => {
    const supervisor = createSupervisor({
      logFile: join(dir, "app.log"),
      clock: systemClock,
      restartBaseMs: 20,
    });
    // Crashes on its first two starts; the third one stays up with a child in its group.
    const start =
      'echo "$HOST:$PORT $STRATA_RELEASE_ID $STRATA_RELEASE_VERSION $GREETING" >> starts.txt; ' +
      'echo "starting" ; [ "$(wc -l < starts.txt)" -ge 3 ] || exit 3; ' +
      "sleep 60 & echo $! > child.pid; wait";
    await supervisor.start(
      spec(`start: ${JSON.stringify(start)}\nport: 9999\nenv: { GREETING: hey }\n`),
    );
    const childPid = await waitFor("the third start", async () => {
      const pid = Number(await readFile(join(dir, "child.pid"), "utf8").catch(() => "0"));
      return pid > 0 ? pid : 0;
    });
    const starts = await lines("starts.txt");
    assert.equal(starts.length, 3);
    assert.equal(starts[0], `127.0.0.9:9999 sha256:${"a".repeat(64)} v7 hey`);
    assert.equal(supervisor.current?.version, "v7");
    const pid = supervisor.pid;
    assert.ok(pid !== null && isAlive(pid));
    const log = await readFile(join(dir, "app.log"), "utf8");
    assert.match(log, /starting/);
    assert.match(log, /app exited \(3\)/);

    await supervisor.stop();
    assert.equal(supervisor.current, null);
    assert.equal(supervisor.pid, null);
    assert.equal(isAlive(pid), false);
    assert.equal(isAlive(childPid), false);
    assert.equal((await lines("starts.txt")).length, 3, "no restart after stop");
    await supervisor.stop(); // idempotent
  });

  test("an app that ends leaves nothing of its process group behind to hold its port when it restarts", async () => {
    const supervisor = createSupervisor({
      logFile: join(dir, "orphans.log"),
      clock: systemClock,
      restartBaseMs: 20,
    });
    // The leader starts a child, then waits; only the leader is killed, as `kill <pid>` would.
    const start = `sleep 300 & echo $! >> children.txt; wait`;
    await supervisor.start(spec(`start: ${JSON.stringify(start)}\n`));
    const child = await waitFor("the first child", async () => (await lines("children.txt"))[0]);
    const leader = supervisor.pid!;
    process.kill(leader, "SIGKILL");
    await waitFor("the restart", async () => supervisor.pid !== null && supervisor.pid !== leader);
    await waitFor("the first child to be gone", async () => !isAlive(Number(child)));
    await supervisor.stop();
  });

  test("stop escalates to SIGKILL after stop_timeout when the app ignores SIGTERM", async () => {
    const supervisor = createSupervisor({ logFile: join(dir, "app.log"), clock: systemClock });
    await rm(join(dir, "stubborn.pid"), { force: true });
    await supervisor.start(
      spec(
        `start: "trap '' TERM; echo $$ > stubborn.pid; while :; do sleep 1; done"\nstop_timeout: 200ms\n`,
      ),
    );
    const pid = await waitFor("the app to start", async () =>
      Number(await readFile(join(dir, "stubborn.pid"), "utf8").catch(() => "0")),
    );
    await supervisor.stop();
    assert.equal(isAlive(pid), false);
  });

  test("start replaces the running app", async () => {
    const supervisor = createSupervisor({ logFile: join(dir, "app.log"), clock: systemClock });
    await supervisor.start(spec('start: "exec sleep 60"'));
    const first = supervisor.pid!;
    await supervisor.start({ ...spec('start: "exec sleep 60"'), version: "v8" });
    assert.equal(isAlive(first), false);
    assert.notEqual(supervisor.pid, first);
    assert.equal(supervisor.current?.version, "v8");
    await supervisor.stop();
  });

  // Regression: an agent killed with SIGKILL left its app holding the port, so
  // the next agent's app could not start and health checks reached the old one.
  test("a restarted agent stops the app its killed predecessor left running", async () => {
    const pidFile = join(dir, "app.pid");
    const supervisor = createSupervisor({
      logFile: join(dir, "app.log"),
      pidFile,
      clock: systemClock,
    });
    await supervisor.start(spec('start: "sleep 60"\n'));
    assert.equal((await readFile(pidFile, "utf8")).trim(), String(supervisor.pid));
    await supervisor.stop();
    await assert.rejects(readFile(pidFile), /ENOENT/, "a clean stop removes the pid file");

    // What a SIGKILLed agent leaves behind: its app, in its own group, and the pid file.
    const orphan = spawn("sleep", ["60"], { cwd: dir, detached: true, stdio: "ignore" });
    await writeFile(pidFile, `${orphan.pid}\n`);
    assert.equal(await stopOrphan(pidFile, dir), true);
    assert.equal(isAlive(orphan.pid!), false);
    assert.equal(await stopOrphan(pidFile, dir), false, "idempotent: the pid file is gone");
  });

  test("a pid file naming a process outside the server root is left alone", async () => {
    const other = spawn("sleep", ["30"], { cwd: tmpdir(), detached: true, stdio: "ignore" });
    try {
      const pidFile = join(dir, "app.pid");
      await writeFile(pidFile, `${other.pid}\n`);
      assert.equal(await stopOrphan(pidFile, dir), false);
      assert.equal(isAlive(other.pid!), true);
    } finally {
      other.kill("SIGKILL");
    }
  });

  test("adopts an app started at the server's boot: stops its group, restarts it when it dies, counts it without secrets (issue 13)", async () => {
    const pidFile = join(dir, "adopt.pid");
    const logFile = join(dir, "adopt.log");
    const supervisor = createSupervisor({
      logFile,
      pidFile,
      clock: systemClock,
      restartBaseMs: 20,
      secrets: async () => ({}),
    });
    const exits: (number | null)[] = [];
    supervisor.onExit((exit) => exits.push(exit.code));
    // Started by someone else, in a group of its own with a child: as the boot starts it.
    const booted = spawn("/bin/sh", ["-c", "sleep 60 & wait"], { detached: true, stdio: "ignore" });
    booted.unref();
    const app = spec(`start: ["/bin/sh", "-c", "sleep 60 & wait"]\n`);
    supervisor.adopt(app, booted.pid!);
    assert.equal(supervisor.pid, booted.pid);
    assert.equal(supervisor.current, app);
    assert.equal(supervisor.secretsMissing, true, "the boot started it without its secrets");
    assert.equal((await readFile(pidFile, "utf8")).trim(), String(booted.pid));
    assert.throws(() => supervisor.adopt(app, booted.pid!), /an app runs already/);

    // It dies: the supervisor starts it again itself, as after a crash of its own child.
    process.kill(-booted.pid!, "SIGKILL");
    const restarted = await waitFor("the adopted app restarted", async () =>
      supervisor.pid !== null && supervisor.pid !== booted.pid ? supervisor.pid : null,
    );
    assert.deepEqual(exits, [null], "one exit, its status not known");
    assert.equal(supervisor.lastExit?.count, 1);
    assert.ok(isAlive(restarted));
    assert.match(
      await readFile(logFile, "utf8"),
      /adopted .* pid \d+, started at the server's boot/,
    );
    assert.match(await readFile(logFile, "utf8"), /app exited \(how is not known: adopted\)/);
    await supervisor.stop();
    assert.ok(!isAlive(restarted));

    // stop() takes the adopted app's whole group (its child too).
    const again = spawn("/bin/sh", ["-c", "sleep 60 & echo $! > child.pid; wait"], {
      cwd: dir,
      detached: true,
      stdio: "ignore",
    });
    again.unref();
    const child = await waitFor(
      "the adopted app's child",
      async () =>
        Number((await readFile(join(dir, "child.pid"), "utf8").catch(() => "")).trim()) || null,
    );
    supervisor.adopt(app, again.pid!);
    await supervisor.stop();
    assert.ok(!isAlive(again.pid!) && !isAlive(child), "the group is gone");
    assert.equal(supervisor.current, null);
    await assert.rejects(readFile(pidFile, "utf8"), "the pid file goes with it");
  });
});
