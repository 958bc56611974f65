import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { packDirectory } from "../../artifact/pack.js";
import { releaseDirName } from "../../lib/server-root.js";
import { ensureTls } from "../../server/tls.js";
import type { ReleaseGrant } from "../release-grants.js";
import { encodeUserData } from "../../provider/openstack/user-data.js";
import { builderUserData, DONE_MARKER, FAILED_MARKER } from "./builder-user-data.js";
import { runConfined } from "./testbed-hypervisor.js";

/** This checkout's CLI, as the fleet's `agent_command` names strata on an image. */
const STRATA_AGENT = `${process.execPath} ${fileURLToPath(new URL("../../../bin/strata.js", import.meta.url))} agent`;

const payloadOf = (script: string) =>
  Buffer.from(script.split("<<'STRATA_PAYLOAD'\n")[1]!.split("\nSTRATA_PAYLOAD")[0]!, "base64");

test("a recipe builder carries the tarball, runs provision.sh under timeout with its env, and powers off either way", () => {
  const tarball = randomBytes(3000);
  const script = builderUserData(
    { kind: "recipe", tarball, timeoutMs: 90_500, env: { STRATA_GROUP: "web's" } },
    { image: "web-mw" },
  );
  assert.deepEqual(payloadOf(script), tarball);
  assert.match(script, /STRATA_GROUP='web'\\''s' timeout 91 /);
  assert.match(script, /--exclude=\.\/provision\.sh/);
  assert.ok(script.includes(`echo "${FAILED_MARKER} $1"`) && script.includes(DONE_MARKER));
  assert.match(script, /poweroff/);
});

test("a release builder lays the release with the image's strata, else unpacks it into the agent's layout; a tarball over Nova's user-data limit is refused", () => {
  const id = `sha256:${"ab".repeat(32)}`;
  const script = builderUserData(
    { kind: "release", tarball: randomBytes(100), release: { id, version: "1.2.3" } },
    { image: "web-app" },
  );
  assert.ok(script.includes(`lay() { strata agent lay-release "$@"; }`));
  assert.ok(script.includes("if lay --help >/dev/null 2>&1; then"));
  assert.ok(
    script.includes(`lay --root '/var/lib/strata/server' --release '${id}' --version '1.2.3'`),
  );
  assert.ok(
    builderUserData(
      { kind: "release", tarball: randomBytes(100), release: { id, version: "1.2.3" } },
      { image: "web-app", agentCommand: "/opt/strata/bin/strata agent" },
    ).includes(`lay() { /opt/strata/bin/strata agent lay-release "$@"; }`),
  );
  assert.ok(script.includes(`/var/lib/strata/server/releases/sha256-${"ab".repeat(32)}`));
  assert.ok(script.includes(`ln -sfn 'releases/sha256-${"ab".repeat(32)}'`));
  assert.ok(script.includes('"version":"1.2.3"'));
  const big = builderUserData(
    { kind: "release", tarball: randomBytes(60_000), release: { id, version: "1.2.3" } },
    { image: "web-app" },
  );
  assert.throws(() => encodeUserData(big), { code: "too_large" });
});

describe(
  "a release builder that fetches its release (run as cloud-init would, confined)",
  {
    skip:
      process.getuid?.() === 0
        ? undefined
        : "needs root: the script runs in a private mount namespace",
  },
  () => {
    let work = "";
    let server: Server;
    let base = "";
    let tarball: Buffer;
    let id = "";
    const served: { auth: string | undefined; path: string | undefined }[] = [];
    before(async () => {
      work = await mkdtemp(join(tmpdir(), "strata-builder-"));
      const app = join(work, "app");
      await mkdir(app);
      await writeFile(join(app, "blob.bin"), randomBytes(200_000));
      const packed = await packDirectory(app, join(work, "release.tar.gz"));
      tarball = await readFile(packed.file);
      id = packed.id;
      server = createServer((req, res) => {
        served.push({ auth: req.headers.authorization, path: req.url });
        if (req.headers.authorization !== "Bearer good") return res.writeHead(401).end();
        res.writeHead(200).end(req.url?.includes("corrupt") ? randomBytes(1000) : tarball);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.91.0.2", resolve));
      base = `http://127.91.0.2:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise((resolve) => server.close(resolve));
      await rm(work, { recursive: true, force: true });
    });

    async function run(grant: ReleaseGrant, agentCommand = STRATA_AGENT) {
      const root = await mkdtemp(join(work, "root-"));
      const script = builderUserData(
        { kind: "release", grant, release: { id, version: "2.0.0" } },
        { image: "web-app", root, agentCommand },
      );
      const console = join(work, `console-${randomBytes(4).toString("hex")}`);
      await runConfined(script, console);
      return { root, script, output: await readFile(console, "utf8") };
    }

    test("downloads with the grant, checks the sha256 and lays the release into the root's file store with the image's strata", async () => {
      const { root, script, output } = await run({
        url: `${base}/v1/releases/${id}/artifact`,
        token: "good",
      });
      assert.ok(output.includes(DONE_MARKER), output);
      assert.match(output, new RegExp(`${id}: \\d+ files, \\d+ bytes, in the file store`));
      assert.ok(
        encodeUserData(script).length < 8192,
        "the user data stays small, the release fetched",
      );
      const dir = join(root, "releases", releaseDirName(id));
      assert.deepEqual(
        await readFile(join(dir, "blob.bin")),
        await readFile(join(work, "app", "blob.bin")),
      );
      // As the local image store lays it (layRelease): the release's file is a link to its blob.
      assert.deepEqual(await readdir(join(root, "store", "manifests")), [
        id.slice("sha256:".length),
      ]);
      const file = await stat(join(dir, "blob.bin"));
      assert.equal(file.nlink, 2, "the release file and its blob are one inode");
      assert.equal(file.mode & 0o777, 0o444, "read-only: an app cannot write through to the store");
      assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(id)}`);
      const activations = JSON.parse(await readFile(join(root, "activations.json"), "utf8"));
      assert.equal(activations[id]?.version, "2.0.0");
      assert.deepEqual(await readdir(join(root, "tmp")), [], "no scratch left behind");
      assert.equal(served.at(-1)?.auth, "Bearer good");
    });

    test("an image without strata gets the release only unpacked, and the console says so", async () => {
      const missing = join(work, "no-such-strata");
      const { root, output } = await run(
        { url: `${base}/v1/releases/${id}/artifact`, token: "good" },
        `${missing} agent`,
      );
      assert.ok(output.includes(DONE_MARKER), output);
      assert.ok(
        output.includes(
          `strata-bake: no \`${missing} agent lay-release\` on this image: release only unpacked, no file store`,
        ),
        output,
      );
      const dir = join(root, "releases", releaseDirName(id));
      assert.deepEqual(
        await readFile(join(dir, "blob.bin")),
        await readFile(join(work, "app", "blob.bin")),
      );
      assert.ok(!(await readdir(root)).includes("store"));
      assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(id)}`);
    });

    test("a tarball the image's strata refuses fails the bake with a console line, no release folder left", async () => {
      // Hashes to the id (the script's check passes) but is no gzip'd tar: lay-release refuses it.
      const junk = randomBytes(5000);
      const junkId = `sha256:${createHash("sha256").update(junk).digest("hex")}`;
      const root = await mkdtemp(join(work, "root-"));
      const script = builderUserData(
        { kind: "release", tarball: junk, release: { id: junkId, version: "3.0.0" } },
        { image: "web-app", root, agentCommand: STRATA_AGENT },
      );
      const console = join(work, `console-${randomBytes(4).toString("hex")}`);
      await runConfined(script, console);
      const output = await readFile(console, "utf8");
      assert.match(
        output,
        new RegExp(`${FAILED_MARKER} laying release ${junkId} into the file store exited with 1`),
      );
      assert.deepEqual(await readdir(join(root, "releases")).catch(() => []), []);
      assert.ok(!(await readdir(root)).includes("current"));
    });

    test("over HTTPS with strata's own certificate, the builder trusts the grant's CA (and nothing else)", async () => {
      const tls = await ensureTls(join(work, "tls"), ["127.83.0.2"]);
      const https = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) =>
        res.writeHead(req.headers.authorization === "Bearer good" ? 200 : 401).end(tarball),
      );
      await new Promise<void>((resolve) => https.listen(0, "127.83.0.2", resolve));
      try {
        const url = `https://127.83.0.2:${(https.address() as AddressInfo).port}/v1/releases/${id}/artifact`;
        const pinned = await run({ url, token: "good", ca: tls.ca });
        assert.ok(pinned.output.includes(DONE_MARKER), pinned.output);
        assert.ok(pinned.script.includes(`--cacert "$work/ca.pem"`));
        // Without it, curl refuses the certificate (exit 60): the gap before the CA was handed.
        const unpinned = await run({ url, token: "good" });
        assert.ok(
          unpinned.output.includes(
            `${FAILED_MARKER} downloading release ${id} from ${url}: curl exited with 60`,
          ),
          unpinned.output,
        );
      } finally {
        await new Promise((resolve) => https.close(resolve));
      }
    });

    test("a checksum mismatch fails the bake with a console line and unpacks nothing", async () => {
      const { root, output } = await run({ url: `${base}/corrupt`, token: "good" });
      assert.match(
        output,
        new RegExp(
          `${FAILED_MARKER} checksum mismatch for release ${id} \\(got sha256:[0-9a-f]{64}\\)`,
        ),
      );
      assert.deepEqual(await readdir(root), []);
    });

    test("a refused download fails the bake with a console line naming the release and the URL", async () => {
      const url = `${base}/v1/releases/${id}/artifact`;
      const { root, output } = await run({ url, token: "revoked" });
      assert.ok(
        output.includes(
          `${FAILED_MARKER} downloading release ${id} from ${url}: curl exited with 22`,
        ),
        output,
      );
      assert.deepEqual(await readdir(root), []);
    });
  },
);
