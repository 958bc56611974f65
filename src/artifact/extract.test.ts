import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import * as tar from "tar";
import { StrataError } from "../lib/errors.js";
import { extractArchive } from "./extract.js";
import { header, pax, rawTar } from "./test-support.js";

let work: string;
/** A folder outside every dest; hostile archives aim at it. */
let outside: string;
let counter = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "strata-extract-"));
  outside = join(work, "outside");
  await mkdir(outside);
});
after(() => rm(work, { recursive: true, force: true }));

/** A fresh case folder: `<case>/archive.tar.gz`, and `<case>/releases/dest` as the destination. */
async function setup(archive: Buffer): Promise<{ archive: string; dest: string; parent: string }> {
  const dir = join(work, `case-${++counter}`);
  await mkdir(join(dir, "releases"), { recursive: true });
  await writeFile(join(dir, "archive.tar.gz"), archive);
  return {
    archive: join(dir, "archive.tar.gz"),
    dest: join(dir, "releases", "dest"),
    parent: join(dir, "releases"),
  };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Extracts `archive`, expects a rejection with `code` whose message names
 * `entry` and matches `reason`, and checks that nothing was left behind:
 * no dest, no staging folder, nothing new in `outside`.
 */
async function expectRejected(
  archive: Buffer,
  code: "unsafe_archive" | "too_large",
  reason: RegExp,
  options: { entry?: string; maxBytes?: number; maxEntries?: number } = {},
) {
  const { archive: file, dest, parent } = await setup(archive);
  await assert.rejects(extractArchive(file, dest, options), (err: unknown) => {
    assert.ok(err instanceof StrataError, `not a StrataError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /^\[artifact\] extract: /);
    assert.match(err.message, reason);
    if (options.entry !== undefined)
      assert.ok(err.message.includes(`: ${options.entry}: `), err.message);
    return true;
  });
  assert.equal(await exists(dest), false, "dest must not exist");
  assert.deepEqual(await readdir(parent), [], "no staging folder may remain");
  assert.deepEqual(await readdir(outside), [], "nothing may be written outside dest");
  assert.equal(await exists(join(work, "evil")), false);
}

describe("extractArchive accepts", () => {
  test("files, folders, symlinks, hard links, implicit parents and './'", async () => {
    const archive = rawTar([
      { name: "./", type: "5", mode: 0o700 },
      { name: "app/", type: "5", mode: 0o700 },
      { name: "app/server.js", data: "console.log(1)\n", mode: 0o600 },
      { name: "app/bin/run", data: "#!/bin/sh\n", mode: 0o700 },
      { name: "deep/er/file.txt", data: "implicit parents" },
      { name: "app/current", type: "2", linkname: "bin/run" },
      { name: "app/up", type: "2", linkname: "../deep/er" },
      { name: "app/copy.js", type: "1", linkname: "app/server.js" },
      { name: "empty" },
    ]);
    const { archive: file, dest } = await setup(gzipSync(archive));
    assert.deepEqual(await extractArchive(file, dest), { files: 4, bytes: 15 + 10 + 16 });
    assert.equal(await readFile(join(dest, "app/server.js"), "utf8"), "console.log(1)\n");
    assert.equal(await readFile(join(dest, "deep/er/file.txt"), "utf8"), "implicit parents");
    assert.equal(await readlink(join(dest, "app/current")), "bin/run");
    assert.equal(await readFile(join(dest, "app/up/file.txt"), "utf8"), "implicit parents");
    assert.equal(
      (await stat(join(dest, "app/copy.js"))).ino,
      (await stat(join(dest, "app/server.js"))).ino,
    );
    assert.equal((await stat(join(dest, "empty"))).size, 0);
    // exec bit kept, everything else normalised; folders 0755 whatever the header says
    assert.equal((await stat(join(dest, "app/server.js"))).mode & 0o777, 0o644);
    assert.equal((await stat(join(dest, "app/bin/run"))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, "app"))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, "deep/er"))).mode & 0o777, 0o755);
    assert.equal((await stat(dest)).mode & 0o777, 0o755);
  });

  test("modes are 0755/0644 even under a umask of 077", async () => {
    const archive = rawTar([
      { name: "bin/", type: "5" },
      { name: "bin/run", data: "#!/bin/sh\n", mode: 0o755 },
      { name: "implicit/readme", data: "hi", mode: 0o644 },
    ]);
    const { archive: file, dest } = await setup(gzipSync(archive));
    const previous = process.umask(0o077);
    try {
      await extractArchive(file, dest);
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(dest)).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, "bin"))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, "implicit"))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, "bin/run"))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, "implicit/readme"))).mode & 0o777, 0o644);
  });

  test("GNU long names and pax paths", async () => {
    const longName = `${"d".repeat(120)}/${"f".repeat(150)}`;
    const archive = rawTar([
      { name: "././@LongLink", type: "L", data: `${longName}\0` },
      { name: "truncated", data: "gnu" },
      pax({ path: "pax/ünï.txt" }),
      { name: "ignored-name", data: "pax" },
      { name: "linked", type: "2", linkname: "ignored", prefix: "" },
    ]);
    const { archive: file, dest } = await setup(gzipSync(archive));
    await extractArchive(file, dest);
    assert.equal(await readFile(join(dest, longName), "utf8"), "gnu");
    assert.equal(await readFile(join(dest, "pax/ünï.txt"), "utf8"), "pax");
    assert.equal(await exists(join(dest, "truncated")), false);
  });

  test("an archive written by node-tar, with long paths, round trips", async () => {
    const src = join(work, `node-tar-src-${++counter}`);
    const deep = join(src, "a".repeat(90), "b".repeat(90), "c".repeat(90));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, "file.txt"), "deep");
    await writeFile(join(src, "top.txt"), "top");
    const file = join(work, `node-tar-${counter}.tgz`);
    await tar.c({ gzip: true, file, cwd: src, portable: true }, ["."]);
    const dest = join(work, `node-tar-dest-${counter}`);
    await extractArchive(file, dest);
    assert.equal(
      await readFile(
        join(dest, "a".repeat(90), "b".repeat(90), "c".repeat(90), "file.txt"),
        "utf8",
      ),
      "deep",
    );
    assert.equal(await readFile(join(dest, "top.txt"), "utf8"), "top");
  });

  test("a destination that exists is refused and left alone", async () => {
    const { archive: file, dest } = await setup(gzipSync(rawTar([{ name: "a", data: "x" }])));
    await mkdir(dest);
    await writeFile(join(dest, "keep"), "mine");
    await assert.rejects(extractArchive(file, dest), { code: "conflict" });
    assert.equal(await readFile(join(dest, "keep"), "utf8"), "mine");
  });

  test("a missing archive is not_found", async () => {
    await assert.rejects(extractArchive(join(work, "nope.tgz"), join(work, "nope-dest")), {
      code: "not_found",
    });
    assert.equal(await exists(join(work, "nope-dest")), false);
  });
});

describe("extractArchive rejects", () => {
  test("an absolute path", async () => {
    const evil = join(outside, "evil");
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "ok", data: "1" },
          { name: evil, data: "x" },
        ]),
      ),
      "unsafe_archive",
      /absolute path/,
      { entry: evil },
    );
  });

  test("'..' traversal", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "../../outside/evil", data: "x" }])),
      "unsafe_archive",
      /'\.\.'/,
      { entry: "../../outside/evil" },
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "a/../../../outside/evil", data: "x" }])),
      "unsafe_archive",
      /'\.\.'/,
    );
  });

  test("'..' hidden in the ustar prefix field", async () => {
    await expectRejected(
      gzipSync(rawTar([{ prefix: "../../outside", name: "evil", data: "x" }])),
      "unsafe_archive",
      /'\.\.'/,
    );
  });

  test("a symlink to an absolute path", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "link", type: "2", linkname: outside }])),
      "unsafe_archive",
      /symlink points outside/,
      { entry: "link" },
    );
  });

  test("a symlink climbing out with '..'", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "a/link", type: "2", linkname: "../../outside" }])),
      "unsafe_archive",
      /symlink points outside/,
      { entry: "a/link" },
    );
  });

  test("a symlink escaping through another symlink", async () => {
    // d/s -> .. is the root itself (fine), but l -> d/s/.. then climbs above it.
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "d/", type: "5" },
          { name: "d/s", type: "2", linkname: ".." },
          { name: "l", type: "2", linkname: "d/s/.." },
        ]),
      ),
      "unsafe_archive",
      /symlink points outside/,
      { entry: "l" },
    );
  });

  test("a symlink loop", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "a", type: "2", linkname: "b" },
          { name: "b", type: "2", linkname: "a" },
        ]),
      ),
      "unsafe_archive",
      /too many levels/,
    );
  });

  test("a symlink to outside, then a file written through it", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "a", type: "2", linkname: outside },
          { name: "a/evil", data: "x" },
        ]),
      ),
      "unsafe_archive",
      /symlink points outside/,
    );
  });

  test("a file written through an inside symlink", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "sub/", type: "5" },
          { name: "a", type: "2", linkname: "sub" },
          { name: "a/evil", data: "x" },
        ]),
      ),
      "unsafe_archive",
      /parent a is a symlink/,
      { entry: "a/evil" },
    );
  });

  test("a symlink replaced by a file of the same name (duplicate entries)", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "a", type: "2", linkname: "b" },
          { name: "a", data: "x" },
        ]),
      ),
      "unsafe_archive",
      /duplicate entry/,
    );
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "a", data: "1" },
          { name: "a", data: "2" },
        ]),
      ),
      "unsafe_archive",
      /duplicate entry/,
    );
  });

  test("a file below a file", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "f", data: "1" },
          { name: "f/x", data: "2" },
        ]),
      ),
      "unsafe_archive",
      /parent f is a file/,
    );
  });

  test("a hard link to an absolute path, to '..' and to a path not in the archive", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "h", type: "1", linkname: "/etc/passwd" }])),
      "unsafe_archive",
      /hard link target: absolute path/,
      { entry: "h" },
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "h", type: "1", linkname: "../outside/x" }])),
      "unsafe_archive",
      /hard link target: path contains '\.\.'/,
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "h", type: "1", linkname: "not/here" }])),
      "unsafe_archive",
      /not a file extracted before it/,
    );
  });

  test("a hard link to a symlink or a folder", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "s", type: "2", linkname: "x" },
          { name: "h", type: "1", linkname: "s" },
        ]),
      ),
      "unsafe_archive",
      /not a file extracted before it/,
    );
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "d/", type: "5" },
          { name: "h", type: "1", linkname: "d" },
        ]),
      ),
      "unsafe_archive",
      /not a file extracted before it/,
    );
  });

  test("character devices, block devices and FIFOs", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "null", type: "3" }])),
      "unsafe_archive",
      /character device entries are not allowed/,
      { entry: "null" },
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "sda", type: "4" }])),
      "unsafe_archive",
      /block device entries are not allowed/,
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "pipe", type: "6" }])),
      "unsafe_archive",
      /FIFO entries are not allowed/,
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "sparse", type: "S" }])),
      "unsafe_archive",
      /type 'S' entries are not allowed/,
    );
  });

  test("files totalling more than maxBytes", async () => {
    const archive = rawTar([
      { name: "a", data: Buffer.alloc(600) },
      { name: "b", data: Buffer.alloc(600) },
    ]);
    await expectRejected(gzipSync(archive), "too_large", /exceed 1000 bytes/, {
      entry: "b",
      maxBytes: 1000,
    });
  });

  test("a multi-member gzip bomb stops at the configured limit, not at 2 GiB (issue 8 defect 12)", async () => {
    // 64 gzip members of 1 MiB of zeros each (about 1 KiB compressed apiece), limit 4 MiB.
    const member = (i: number) =>
      gzipSync(rawTar([{ name: `zero-${i}`, data: Buffer.alloc(1024 * 1024) }], { end: false }));
    const members = Array.from({ length: 64 }, (_, i) => member(i));
    const bomb = Buffer.concat([...members, gzipSync(Buffer.alloc(1024))]);
    assert.ok(bomb.length < 200 * 1024, `the bomb is small (${bomb.length} bytes)`);
    await expectRejected(bomb, "too_large", /exceed 4194304 bytes/, {
      entry: "zero-4",
      maxBytes: 4 * 1024 * 1024,
    });
  });

  test("a header lying about a huge size", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "huge", data: "tiny", size: 2 ** 40 }])),
      "too_large",
      /exceed/,
      { entry: "huge" },
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "octal", data: "tiny", size: 0o77777777777 }])),
      "too_large",
      /exceed/,
      { entry: "octal" },
    );
  });

  test("a pax size lying about a huge size", async () => {
    await expectRejected(
      gzipSync(rawTar([pax({ size: String(2 ** 45) }), { name: "huge", data: "tiny" }])),
      "too_large",
      /exceed/,
    );
  });

  test("a header claiming more data than the archive holds", async () => {
    const truncated = Buffer.concat([header({ name: "cut", size: 4000 }), Buffer.alloc(1000)]);
    await expectRejected(gzipSync(truncated), "unsafe_archive", /truncated archive/, {
      entry: "cut",
    });
  });

  test("a header claiming less data than it carries", async () => {
    // The rest of the data is then read as a header, and fails its checksum.
    const archive = Buffer.concat([
      header({ name: "short", size: 10 }),
      Buffer.alloc(512, 0x41),
      Buffer.alloc(512, 0x41),
      Buffer.alloc(1024),
    ]);
    await expectRejected(gzipSync(archive), "unsafe_archive", /bad header checksum/);
  });

  test("more entries than maxEntries", async () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, data: "x" }));
    await expectRejected(gzipSync(rawTar(entries)), "too_large", /more than 5 entries/, {
      entry: "f5",
      maxEntries: 5,
    });
  });

  test("a corrupted gzip stream", async () => {
    const gz = gzipSync(
      rawTar([
        { name: "a", data: Buffer.alloc(100_000, 0x61) },
        { name: "b", data: "bbb" },
      ]),
    );
    for (let i = 20; i < gz.length - 8; i += 7) gz[i] = (gz[i] ?? 0) ^ 0x5a;
    await expectRejected(gz, "unsafe_archive", /corrupt gzip data|bad header checksum|truncated/);
  });

  test("a gzip stream whose CRC does not match", async () => {
    const gz = gzipSync(rawTar([{ name: "a", data: "content" }]));
    const crc = gz.length - 8;
    gz[crc] = (gz[crc] ?? 0) ^ 0xff;
    await expectRejected(gz, "unsafe_archive", /corrupt gzip data/);
  });

  test("a truncated gzip stream", async () => {
    const gz = gzipSync(rawTar([{ name: "a", data: Buffer.alloc(50_000, 0x61) }]));
    await expectRejected(gz.subarray(0, Math.floor(gz.length / 2)), "unsafe_archive", /truncated/);
    await expectRejected(gz.subarray(0, gz.length - 4), "unsafe_archive", /truncated|corrupt gzip/);
  });

  test("data that is not gzip", async () => {
    await expectRejected(
      rawTar([{ name: "a", data: "plain tar" }]),
      "unsafe_archive",
      /corrupt gzip data/,
    );
  });

  test("a tar without its end-of-archive block", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "a", data: "x" }], { end: false })),
      "unsafe_archive",
      /no end-of-archive block/,
    );
  });

  test("entries hidden after the end-of-archive block", async () => {
    const archive = Buffer.concat([
      rawTar([{ name: "a", data: "x" }]),
      rawTar([{ name: "hidden", data: "y" }]),
    ]);
    await expectRejected(
      gzipSync(archive),
      "unsafe_archive",
      /data after the end-of-archive block/,
    );
  });

  test("a bad header checksum", async () => {
    const archive = rawTar([{ name: "a", data: "x" }]);
    archive[0] = 0x62; // "b": the name changes, the checksum does not
    await expectRejected(gzipSync(archive), "unsafe_archive", /bad header checksum/);
  });

  test("a pax path with '..' or an absolute path", async () => {
    await expectRejected(
      gzipSync(rawTar([pax({ path: "../../outside/evil" }), { name: "innocent", data: "x" }])),
      "unsafe_archive",
      /'\.\.'/,
      { entry: "../../outside/evil" },
    );
    await expectRejected(
      gzipSync(rawTar([pax({ path: join(outside, "evil") }), { name: "innocent", data: "x" }])),
      "unsafe_archive",
      /absolute path/,
    );
  });

  test("a pax path with a NUL byte", async () => {
    await expectRejected(
      gzipSync(rawTar([pax({ path: "ok\0/../../evil" }), { name: "innocent", data: "x" }])),
      "unsafe_archive",
      /NUL|'\.\.'/,
    );
  });

  test("a pax linkpath pointing outside", async () => {
    await expectRejected(
      gzipSync(rawTar([pax({ linkpath: outside }), { name: "link", type: "2", linkname: "fine" }])),
      "unsafe_archive",
      /symlink points outside/,
      { entry: "link" },
    );
    await expectRejected(
      gzipSync(
        rawTar([pax({ linkpath: "../outside/x" }), { name: "h", type: "1", linkname: "fine" }]),
      ),
      "unsafe_archive",
      /hard link target/,
    );
  });

  test("GNU long names and long links leading outside", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "././@LongLink", type: "L", data: "../../outside/evil\0" },
          { name: "innocent", data: "x" },
        ]),
      ),
      "unsafe_archive",
      /'\.\.'/,
    );
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "././@LongLink", type: "K", data: `${outside}\0` },
          { name: "link", type: "2", linkname: "fine" },
        ]),
      ),
      "unsafe_archive",
      /symlink points outside/,
    );
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "././@LongLink", type: "K", data: "/etc/passwd\0" },
          { name: "h", type: "1", linkname: "fine" },
        ]),
      ),
      "unsafe_archive",
      /hard link target: absolute path/,
    );
  });

  test("an oversized or endless chain of extension headers", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "x", type: "x", data: "", size: 2 ** 30 }])),
      "unsafe_archive",
      /extension header of/,
    );
    const chain = Array.from({ length: 10 }, () => pax({ comment: "again" }));
    await expectRejected(
      gzipSync(rawTar([...chain, { name: "a", data: "x" }])),
      "unsafe_archive",
      /too many extension headers/,
    );
  });

  test("a malformed pax record", async () => {
    await expectRejected(
      gzipSync(
        rawTar([
          { name: "PaxHeader", type: "x", data: "999 path=a\n" },
          { name: "a", data: "x" },
        ]),
      ),
      "unsafe_archive",
      /malformed pax record/,
    );
  });

  test("a symlink or folder entry that carries data", async () => {
    await expectRejected(
      gzipSync(rawTar([{ name: "s", type: "2", linkname: "x", data: "payload" }])),
      "unsafe_archive",
      /carries data/,
    );
    await expectRejected(
      gzipSync(rawTar([{ name: "d/", type: "5", data: "payload" }])),
      "unsafe_archive",
      /carries data/,
    );
  });
});
