import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as tar from "tar";
import { StrataError } from "../lib/errors.js";
import { digestFile } from "./digest.js";
import { extractArchive } from "./extract.js";
import { packDirectory } from "./pack.js";
import { MANIFEST_FILE, parseManifest } from "../cas/manifest.js";

let work: string;
let counter = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "strata-pack-"));
});
after(() => rm(work, { recursive: true, force: true }));

function fresh(name: string): string {
  return join(work, `${name}-${++counter}`);
}

/** Writes `files` (path -> content, or { link } for a symlink, or { exec } for an executable) under `root`. */
async function makeTree(
  root: string,
  files: Record<string, string | Buffer | { link: string } | { exec: string }>,
) {
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const abs = join(root, path);
    await mkdir(join(abs, ".."), { recursive: true });
    if (typeof content === "object" && "link" in content) await symlink(content.link, abs);
    else if (typeof content === "object" && "exec" in content) {
      await writeFile(abs, content.exec);
      await chmod(abs, 0o755);
    } else await writeFile(abs, content);
  }
}

type Snapshot = Record<string, string>;

/** Every path under `root` with its type, mode bits that matter and content or target; not the manifest pack adds. */
async function snapshot(root: string, rel = ""): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel === "" ? name : `${rel}/${name}`;
    if (path === MANIFEST_FILE) continue;
    const abs = join(root, path);
    const stats = await lstat(abs);
    if (stats.isSymbolicLink()) out[path] = `link -> ${await readlink(abs)}`;
    else if (stats.isDirectory()) {
      out[path] = "dir";
      Object.assign(out, await snapshot(root, path));
    } else {
      const exec = stats.mode & 0o100 ? "exec " : "";
      out[path] = `${exec}file ${createHash("sha256")
        .update(await readFile(abs))
        .digest("hex")}`;
    }
  }
  return out;
}

const SAMPLE = {
  "package.json": '{"name":"app"}\n',
  "server.js": "require('http').createServer().listen(3000)\n",
  "bin/start": { exec: "#!/bin/sh\nexec node server.js\n" },
  "lib/util/strings.js": "module.exports = {}\n",
  "public/logo.bin": randomBytes(700_000),
  "public/huge.bin": randomBytes(1_100_000),
  "public/empty.txt": "",
  current: { link: "lib/util" },
  "lib/up": { link: "../public/logo.bin" },
  [`${"a".repeat(80)}/${"b".repeat(80)}/${"c".repeat(110)}.js`]: "long path\n",
  [`${"d".repeat(200)}/${"e".repeat(200)}.txt`]: "very long path\n",
  "ünïcødé/文件.txt": "utf-8 names\n",
  "link-long": { link: `${"x".repeat(150)}/target` },
};

describe("packDirectory", () => {
  test("round trip: extract gives back the same tree", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    await mkdir(join(src, "empty-dir"));
    const out = fresh("out.tar.gz");
    const result = await packDirectory(src, out);
    assert.equal(result.file, out);
    assert.equal(result.fileCount, 10);
    const dest = fresh("dest");
    const extracted = await extractArchive(out, dest);
    assert.equal(extracted.files, 11, "the ten and the manifest");
    assert.deepEqual(await snapshot(dest), await snapshot(src));
  });

  test("the last member is the manifest: every entry with its mode, size and sha256", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    await writeFile(join(src, MANIFEST_FILE), "a stale one is replaced\n");
    const out = fresh("out.tar.gz");
    await packDirectory(src, out);
    const order: string[] = [];
    await tar.t({ file: out, onReadEntry: (entry) => order.push(entry.path) });
    assert.equal(order.at(-1), MANIFEST_FILE);
    assert.equal(order.filter((path) => path === MANIFEST_FILE).length, 1);
    const dest = fresh("dest");
    await extractArchive(out, dest);
    const entries = parseManifest(await readFile(join(dest, MANIFEST_FILE)), {
      maxBytes: 1e9,
      maxEntries: 1000,
    });
    const listed: Snapshot = {};
    for (const entry of entries) {
      if (entry.kind === "directory") listed[entry.path] = "dir";
      else if (entry.kind === "symlink") listed[entry.path] = `link -> ${entry.target}`;
      else listed[entry.path] = `${entry.mode === 0o755 ? "exec " : ""}file ${entry.sha256}`;
    }
    const expected = await snapshot(src);
    assert.deepEqual(listed, expected);
    const start = entries.find((entry) => entry.path === "bin/start");
    assert.ok(start?.kind === "file" && start.size === (await lstat(join(src, "bin/start"))).size);
  });

  test("the id is the sha256 of the file written, and size its length", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    const out = fresh("out.tar.gz");
    const result = await packDirectory(src, out);
    assert.equal(result.id, await digestFile(out));
    assert.equal(result.size, (await lstat(out)).size);
  });

  test("the archive reads back with node-tar and GNU tar", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    const out = fresh("out.tar.gz");
    await packDirectory(src, out);
    const viaNodeTar = fresh("node-tar");
    await mkdir(viaNodeTar);
    await tar.x({ file: out, cwd: viaNodeTar });
    assert.deepEqual(await snapshot(viaNodeTar), await snapshot(src));

    const gnu = spawnSync("tar", ["--version"]);
    if (gnu.status !== 0) return; // no system tar here: node-tar alone
    const viaGnuTar = fresh("gnu-tar");
    await mkdir(viaGnuTar);
    const run = spawnSync("tar", ["-xzf", out, "-C", viaGnuTar]);
    assert.equal(run.status, 0, run.stderr.toString());
    assert.deepEqual(await snapshot(viaGnuTar), await snapshot(src));
  });

  test("metadata is normalised: mtime 0, uid/gid 0, no names, modes 0644/0755", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    await chmod(join(src, "server.js"), 0o600);
    await chmod(join(src, "lib"), 0o700);
    const out = fresh("out.tar.gz");
    await packDirectory(src, out);
    const seen: string[] = [];
    await tar.t({
      file: out,
      onReadEntry: (entry) => {
        seen.push(entry.path);
        assert.equal(entry.mtime?.getTime(), 0, entry.path);
        assert.equal(entry.uid, 0, entry.path);
        assert.equal(entry.gid, 0, entry.path);
        assert.ok(!entry.uname, entry.path);
        assert.ok(!entry.gname, entry.path);
        const mode = (entry.mode ?? 0) & 0o7777;
        if (entry.type === "Directory") assert.equal(mode, 0o755, entry.path);
        else if (entry.type === "File")
          assert.equal(mode, entry.path === "bin/start" ? 0o755 : 0o644, entry.path);
      },
    });
    assert.ok(seen.includes("server.js") && seen.includes("lib/"));
    const gz = await readFile(out);
    assert.equal(gz.readUInt32LE(4), 0, "gzip header mtime");
    assert.equal(gz[3], 0, "gzip header flags: no name, no comment");
    assert.equal(gz[9], 3, "gzip header OS: Unix");
  });

  test("entries are sorted, each folder before its contents", async () => {
    const src = fresh("src");
    await makeTree(src, { "b.txt": "", "a/z.txt": "", "a/m/x.txt": "", "a.txt": "", "C.txt": "" });
    const out = fresh("out.tar.gz");
    await packDirectory(src, out);
    const order: string[] = [];
    await tar.t({ file: out, onReadEntry: (entry) => order.push(entry.path) });
    assert.deepEqual(order, [
      "C.txt",
      "a/",
      "a/m/",
      "a/m/x.txt",
      "a/z.txt",
      "a.txt",
      "b.txt",
      MANIFEST_FILE,
    ]);
  });

  test("deterministic: same content, same id; mtimes, atimes and non-exec mode bits do not matter", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    const first = await packDirectory(src, fresh("out.tar.gz"));
    const again = await packDirectory(src, fresh("out.tar.gz"));
    assert.equal(again.id, first.id);

    await utimes(join(src, "server.js"), new Date("2001-02-03"), new Date("2001-02-03"));
    await utimes(join(src, "lib"), new Date(), new Date());
    await chmod(join(src, "package.json"), 0o600);
    const touched = await packDirectory(src, fresh("out.tar.gz"));
    assert.equal(touched.id, first.id);

    const copy = fresh("copy");
    await makeTree(copy, SAMPLE);
    assert.equal(
      (await packDirectory(copy, fresh("out.tar.gz"))).id,
      first.id,
      "same content in another folder",
    );

    await writeFile(join(src, "server.js"), "changed\n");
    assert.notEqual((await packDirectory(src, fresh("out.tar.gz"))).id, first.id);
  });

  test("the exec bit changes the id", async () => {
    const src = fresh("src");
    await makeTree(src, { "run.sh": "#!/bin/sh\n" });
    const before = await packDirectory(src, fresh("out.tar.gz"));
    await chmod(join(src, "run.sh"), 0o755);
    assert.notEqual((await packDirectory(src, fresh("out.tar.gz"))).id, before.id);
  });

  test(".strataignore, extra patterns and .git", async () => {
    const src = fresh("src");
    await makeTree(src, {
      ".strataignore":
        "# build leftovers\n*.log\nnode_modules/\n/tmp\n!keep.log\nsecrets/*\n!secrets/public.pem\n",
      "app.js": "x",
      "debug.log": "x",
      "keep.log": "x",
      "sub/trace.log": "x",
      "node_modules/dep/index.js": "x",
      "web/node_modules/dep/index.js": "x",
      "tmp/cache": "x",
      "web/tmp/kept": "x",
      "secrets/private.pem": "x",
      "secrets/public.pem": "x",
      ".git/HEAD": "ref: refs/heads/main\n",
      "vendor/lib/.git": "gitdir: ../../.git/modules/lib\n",
      "coverage/report.html": "x",
      "notes.md": "x",
    });
    const out = fresh("out.tar.gz");
    const result = await packDirectory(src, out, { ignore: ["coverage/", "*.md"] });
    const dest = fresh("dest");
    await extractArchive(out, dest);
    assert.deepEqual(Object.keys(await snapshot(dest)), [
      ".strataignore",
      "app.js",
      "keep.log",
      "secrets",
      "secrets/public.pem",
      "sub",
      "vendor",
      "vendor/lib",
      "web",
      "web/tmp",
      "web/tmp/kept",
    ]);
    assert.equal(result.fileCount, 5);
  });

  test("an ignored folder is not read at all", async () => {
    const src = fresh("src");
    await makeTree(src, { "app.js": "x", "private/secret": "x" });
    await chmod(join(src, "private"), 0o000);
    try {
      const result = await packDirectory(src, fresh("out.tar.gz"), { ignore: ["private/"] });
      assert.equal(result.fileCount, 1);
    } finally {
      await chmod(join(src, "private"), 0o755);
    }
  });

  test("the output file inside the packed folder is not packed into itself", async () => {
    const src = fresh("src");
    await makeTree(src, { "app.js": "x" });
    const out = join(src, "release.tar.gz");
    const first = await packDirectory(src, out);
    const second = await packDirectory(src, out);
    assert.equal(second.fileCount, 1);
    assert.equal(second.id, first.id);
  });

  test("onProgress counts files from 0 to the total", async () => {
    const src = fresh("src");
    await makeTree(src, SAMPLE);
    const calls: [number, number][] = [];
    const result = await packDirectory(src, fresh("out.tar.gz"), {
      onProgress: (done, total) => calls.push([done, total]),
    });
    assert.deepEqual(
      calls,
      Array.from({ length: result.fileCount + 1 }, (_, i) => [i, result.fileCount]),
    );
  });

  for (const [name, link] of [
    ["an absolute symlink", "/etc/passwd"],
    ["a symlink climbing out", "../../outside"],
  ] as const) {
    test(`${name} rejects the pack and leaves no output`, async () => {
      const src = fresh("src");
      await makeTree(src, { "app.js": "x", "sub/bad": { link } });
      const out = fresh("out.tar.gz");
      await assert.rejects(packDirectory(src, out), (err: unknown) => {
        assert.ok(err instanceof StrataError);
        assert.equal(err.code, "bad_request");
        assert.match(err.message, /^\[artifact\] pack: sub\/bad: symlink points outside/);
        assert.match(err.message, /\.strataignore/);
        return true;
      });
      assert.deepEqual(
        (await readdir(work)).filter((file) => file.includes(`out.tar.gz-${counter}`)),
        [],
      );
      // ignoring it is the way out
      await packDirectory(src, out, { ignore: ["sub/bad"] });
    });
  }

  test("a symlink escaping through another symlink rejects the pack", async () => {
    const src = fresh("src");
    await makeTree(src, { "d/s": { link: ".." }, l: { link: "d/s/.." } });
    await assert.rejects(packDirectory(src, fresh("out.tar.gz")), {
      code: "bad_request",
      message: /pack: l: symlink points outside/,
    });
  });

  test("a FIFO rejects the pack", async (t) => {
    const src = fresh("src");
    await makeTree(src, { "app.js": "x" });
    if (spawnSync("mkfifo", [join(src, "pipe")]).status !== 0)
      return t.skip("mkfifo is not available");
    await assert.rejects(packDirectory(src, fresh("out.tar.gz")), {
      code: "bad_request",
      message: /pack: pipe: unsupported file type/,
    });
    assert.equal(
      (await packDirectory(src, fresh("out.tar.gz"), { ignore: ["pipe"] })).fileCount,
      1,
    );
  });

  test("a missing folder is not_found", async () => {
    await assert.rejects(packDirectory(fresh("missing"), fresh("out.tar.gz")), {
      code: "not_found",
    });
  });
});
