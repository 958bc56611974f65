import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { saveCredentials } from "../fleet/agent-credentials.js";
import { releaseDir, switchCurrent } from "../lib/server-root.js";
import { httpStatus, waitFor } from "../lib/test-support.js";
import { ROOT_READY_FD_ENV } from "./agent-flags.js";
import { STOPPED_MARKER } from "./current-app.js";
import { BOOT_TRACE_FILE } from "./boot-trace.js";
import { startEarly } from "./early-boot.js";

const EXAMPLE_APP = fileURLToPath(new URL("../../examples/hello", import.meta.url));
const RELEASE = `sha256:${"e".repeat(64)}`;
const EARLY_BOOT = fileURLToPath(new URL("./early-boot.ts", import.meta.url));

/** Status of GET / on the app's port. */
const answer = (address: string) => httpStatus(address, 8080);

/** A server root holding the example app as `current`. */
async function rootWithCurrent(dir: string): Promise<string> {
  const root = await mkdtemp(join(dir, "root-"));
  await cp(EXAMPLE_APP, releaseDir(root, RELEASE), { recursive: true });
  await switchCurrent(root, RELEASE, { activated_at: Date.now(), version: "1.0.0" });
  return root;
}

const flags = (root: string, address: string) => [
  ...["--server", "http://127.82.250.1:9", "--group", "web"],
  ...["--root", root, "--address", address],
];
// As root, apps would run as an account of their own; these run as the test does.
const ENV = { STRATA_APP_USER: "root" };

describe("the agent's early boot (issue 13: service-in from a golden image)", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-early-boot-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("starts the app from current before the agent exists, then hands it the root's token", async () => {
    const root = await rootWithCurrent(dir);
    await saveCredentials(root, { name: "web-1", token: "saved-token" });
    const early = await startEarly(flags(root, "127.82.3.1"), ENV);
    assert.ok(early, "it ran");
    try {
      assert.equal(early.started?.releaseId, RELEASE);
      assert.equal(early.joined, undefined, "a root with a token does not join again");
      await waitFor("the app to answer", async () => (await answer("127.82.3.1")) === 200);
      const client = {
        token: null as string | null,
        setToken(token: string) {
          this.token = token;
        },
      };
      const lines: string[] = [];
      const opened = early.attach(client, (line) => lines.push(line));
      assert.equal(client.token, "saved-token");
      assert.equal(opened.supervisor.current?.releaseId, RELEASE, "the agent's supervisor runs it");
    } finally {
      await early.stop();
    }
    assert.equal(await answer("127.82.3.1"), 0, "stopped");
  });

  test("without a token in the root, sends the join at once, for the agent's first join to take", async (t) => {
    const joins: string[] = [];
    const plane = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      joins.push(`${req.method} ${req.url} ${body}`);
      res.end('{"server":"web-4","token":"early-token"}');
    });
    await new Promise<void>((resolve) => plane.listen(0, "127.82.4.250", resolve));
    t.after(() => new Promise((resolve) => plane.close(resolve)));
    const { port } = plane.address() as AddressInfo;
    const root = await rootWithCurrent(dir);
    const argv = [
      ...["--server", `http://127.82.4.250:${port}`, "--join-token", "jt", "--group", "web"],
      ...["--root", root, "--address", "127.82.4.1", "--name", "web-4"],
    ];
    const early = await startEarly(argv, ENV);
    assert.ok(early?.joined, "it joined");
    try {
      assert.deepEqual(await early.joined, { server: "web-4", token: "early-token" });
      assert.deepEqual(joins, [
        `POST /v1/agents/join ${JSON.stringify({ join_token: "jt", name: "web-4", group: "web", address: "127.82.4.1" })}`,
      ]);
    } finally {
      await early.stop();
    }
    // A join that fails leaves the join to the agent, saying why.
    const lines: string[] = [];
    const refused = await startEarly(
      [...argv.slice(0, 1), "http://127.82.250.1:9", ...argv.slice(2)],
      ENV,
    );
    try {
      assert.equal(await refused?.joined, null);
      refused!.attach({ token: null, setToken: () => undefined }, (line) => lines.push(line));
      assert.ok(
        lines.some((l) => /early join .*ECONNREFUSED; the agent joins itself/.test(l)),
        lines.join("\n"),
      );
    } finally {
      await refused?.stop();
    }
  });

  test("a stopped app stays stopped, and flags main() refuses start nothing", async () => {
    const root = await rootWithCurrent(dir);
    await writeFile(join(root, STOPPED_MARKER), "");
    const early = await startEarly(flags(root, "127.82.3.2"), ENV);
    assert.equal(early?.started, null);
    await early?.stop();
    assert.equal(await startEarly([...flags(root, "127.82.3.2"), "--help"], ENV), null);
    assert.equal(await startEarly([...flags(root, "127.82.3.2"), "--bogus"], ENV), null);
    assert.equal(await startEarly(["--root", root, "--address", "127.82.3.2"], ENV), null);
  });

  test("opens the root only once its launcher says it is complete, and refuses it when the launcher goes away first", async () => {
    // A process of its own: the launcher's pipe is its file descriptor 3.
    const script = `const { startEarly } = await import(${JSON.stringify(EARLY_BOOT)});
      const early = await startEarly(process.argv.slice(1), process.env).catch((err) => {
        process.stdout.write("refused: " + err.message);
        process.exit(1);
      });
      process.stdout.write(early?.started ? "started " + early.started.releaseId : "nothing");
      await early?.stop();`;
    const spawnEarly = (root: string, address: string) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script, "--", ...flags(root, address)],
        {
          stdio: ["ignore", "pipe", "pipe", "pipe"],
          env: { ...process.env, ...ENV, STRATA_BOOT_TRACE: "1", [ROOT_READY_FD_ENV]: "3" },
        },
      );
      const output = { out: "", err: "" };
      child.stdout!.on("data", (chunk: Buffer) => (output.out += chunk.toString()));
      child.stderr!.on("data", (chunk: Buffer) => (output.err += chunk.toString()));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      return { ready: child.stdio[3] as NodeJS.WritableStream, output, exited };
    };
    // `current` appears only after the early boot began waiting: it starts the app all the same.
    const root = await mkdtemp(join(dir, "root-"));
    const waiting = spawnEarly(root, "127.82.3.3");
    await waitFor("the early boot to wait for its root", async () =>
      (await readFile(join(root, BOOT_TRACE_FILE), "utf8").catch(() => "")).includes("early_boot"),
    );
    await cp(await rootWithCurrent(dir), root, { recursive: true, verbatimSymlinks: true });
    waiting.ready.end("ready\n");
    await waiting.exited;
    assert.equal(waiting.output.out, `started ${RELEASE}`, waiting.output.err);
    // The launcher closes the pipe without `ready` (it failed, or died): the root is not used.
    const abandoned = spawnEarly(await rootWithCurrent(dir), "127.82.3.4");
    abandoned.ready.end();
    await abandoned.exited;
    assert.match(
      abandoned.output.out,
      /^refused: .*its launcher went away before the root was complete/,
    );
  });
});
