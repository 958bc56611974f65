import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { Readable } from "node:stream";
import { createDigest } from "../artifact/digest.js";
import { extractArchive, extractStream, type ExtractOptions } from "../artifact/extract.js";
import { verifyManifestSignature } from "../artifact/signing.js";
import { giveTree, type RunAs } from "../lib/app-user.js";
import type { Clock } from "../lib/clock.js";
import { messageOf, StrataError } from "../lib/errors.js";
import { atLowPriority } from "../lib/process.js";
import { retry } from "../lib/retry.js";
import { releaseDirName } from "../lib/server-root.js";
import { tlsOptions } from "../lib/tls-fetch.js";
import type { DesiredRelease } from "../wire/agent.js";
import { createFileStore, type FileStore, type StoreUsage } from "./file-store.js";
import { MANIFEST_FILE, manifestDigest, parseManifest, type ManifestEntry } from "./manifest.js";
import { materialise, ownRelease, type FileMode } from "./materialise.js";
import { readFrames } from "./pack-stream.js";

/** Runs one reported step of a reconcile (the agent's Steps.run). */
export type StepRunner = (name: string, work: () => Promise<string | void>) => Promise<void>;

/**
 * Puts the files of `release` at `dir` (absent), reporting `fetch` and
 * `extract` steps; ownership included. Rejects with a StrataError naming
 * the problem, leaving nothing at `dir`.
 */
export type ReleaseBuilder = (
  release: DesiredRelease,
  dir: string,
  run: StepRunner,
  signal: AbortSignal,
) => Promise<void>;

export interface ReleaseBuilderOptions {
  /** The server root: `releases/`, `tmp/`, and the store at `store/`. */
  root: string;
  /** Control plane base URL. */
  server: string;
  /** The agent's bearer token, read at each request (it changes after a rejoin). */
  token: () => string;
  /** The pinned release key; without one the whole tarball is fetched (nothing to check a manifest by). */
  releaseKey: () => string | undefined;
  /** Downloads the verified tarball (the fallback for releases without a manifest). */
  fetchTarball: (release: DesiredRelease, dest: string, signal: AbortSignal) => Promise<void>;
  clock: Clock;
  /** PEM of the CA for https. */
  ca?: string;
  /** Size and entry limits, as for extracting the tarball. */
  extract?: ExtractOptions;
  /** The app's account: files are then hard links (see FileMode), else copies. */
  runAs?: RunAs;
  /** Where each build's summary goes (the agent's log). @default nowhere */
  log?: (line: string) => void;
}

/** The builder and the store it fills (its usage goes into heartbeats). */
export interface CasReleaseBuilder {
  build: ReleaseBuilder;
  store: FileStore;
  /**
   * Starts the store's upkeep left by the last build, off the deploy's path:
   * adding the files of a release extracted whole to the store, then
   * collecting it. For the agent to call once a deploy has converged; the next
   * build waits for it (and does it first when nobody called this). Never rejects.
   */
  settle(): Promise<void>;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const DEFAULT_MAX_ENTRIES = 200_000;
/**
 * Share of a release's file bytes missing from the store above which the
 * tarball is fetched instead of a pack: a full deploy then costs what it did
 * before the store (one gunzip stream, no per-file hashing: the tarball's
 * checksum covers every file and the manifest), and its files join the store.
 */
const WHOLE_TARBALL_SHARE = 0.5;
/** Largest gzip'd manifest accepted (10,000 files take ~0.5 MB). */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

class Transient extends Error {}

/**
 * Builds releases from the server's content-addressed store: the signed
 * manifest says which files the release holds, one pack request fetches the
 * contents the store lacks (each verified against its sha256 as it streams),
 * and the folder is made of links to, or copies of, the store's blobs. The
 * store's upkeep (a release extracted whole joining it, then collection:
 * blobs no release on disk names go) waits for settle(), off the deploy's path.
 */
export function createCasReleaseBuilder(options: ReleaseBuilderOptions): CasReleaseBuilder {
  const store = createFileStore(options.root);
  const base = options.server.replace(/\/+$/, "");
  const limits = {
    maxBytes: options.extract?.maxBytes ?? DEFAULT_MAX_BYTES,
    maxEntries: options.extract?.maxEntries ?? DEFAULT_MAX_ENTRIES,
  };
  const files: FileMode = options.runAs ? "link" : "copy";

  const call = async (path: string, init: RequestInit, signal: AbortSignal) => {
    let res: Response;
    try {
      res = await fetch(base + path, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${options.token()}` },
        signal,
        ...(await tlsOptions(options.ca)),
      } as RequestInit);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new Transient(`${path}: ${messageOf(err)}`, { cause: err });
    }
    if (res.ok || res.status === 404) return res;
    const text = await res.text().catch(() => "");
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      throw new Transient(`${path}: HTTP ${res.status}`);
    }
    throw new StrataError(
      res.status === 401 ? "unauthorized" : "internal",
      `[agent] fetch: ${path}: HTTP ${res.status} ${text.slice(0, 200)}`,
    );
  };
  const retried = <T>(work: () => Promise<T>, signal: AbortSignal) =>
    retry(work, {
      clock: options.clock,
      signal,
      retryable: (err) => err instanceof Transient,
      attempts: 5,
      baseDelayMs: 250,
      maxDelayMs: 8000,
    }).catch((err: unknown) => {
      if (!(err instanceof Transient)) throw err;
      throw new StrataError("unavailable", `[agent] fetch: ${err.message}`, { cause: err });
    });

  /** The verified manifest of `release`, or null when the control plane has none. */
  const fetchManifest = async (release: DesiredRelease, key: string, signal: AbortSignal) => {
    const res = await retried(
      () => call(`/v1/releases/${release.id}/manifest`, {}, signal),
      signal,
    );
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_MANIFEST_BYTES) {
      throw new StrataError("too_large", `[agent] fetch: manifest of ${release.id} is too large`);
    }
    let bytes: Buffer;
    try {
      bytes = gunzipSync(body, { maxOutputLength: MAX_MANIFEST_BYTES * 4 });
    } catch (err) {
      throw new StrataError(
        "unsafe_archive",
        `[agent] fetch: manifest of ${release.id}: ${messageOf(err)}`,
      );
    }
    const signature = res.headers.get("x-strata-manifest-signature") ?? undefined;
    verifyManifestSignature(release.id, manifestDigest(bytes), signature, key);
    return { bytes, entries: parseManifest(bytes, limits), downloaded: body.length };
  };

  /** File bytes of the release, and those the store holds in neither mode. */
  const missingBytes = (entries: ManifestEntry[]) => {
    let missing = 0;
    let total = 0;
    for (const entry of entries) {
      if (entry.kind !== "file") continue;
      total += entry.size;
      if (!store.has(entry.sha256, 0o644) && !store.has(entry.sha256, 0o755)) missing += entry.size;
    }
    return { missing, total };
  };

  /**
   * Downloads the tarball and extracts it to `dir` as it streams: one read of
   * the bytes, no copy on disk. Its sha256 and size are checked before `dir`
   * appears (a corrupt tarball leaves nothing); a broken transfer starts over.
   */
  const streamTarball = (release: DesiredRelease, dir: string, signal: AbortSignal) =>
    retried(async () => {
      const res = await call(release.artifact_path, {}, signal);
      if (res.status === 404 || !res.body) {
        await res.body?.cancel();
        throw new StrataError("not_found", `[agent] fetch: ${release.artifact_path}: HTTP 404`);
      }
      const digest = createDigest();
      let bytes = 0;
      let broken: unknown = null;
      const tap = async function* (source: AsyncIterable<Uint8Array>) {
        try {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > release.size) {
              throw new StrataError(
                "checksum_mismatch",
                `[agent] fetch: ${release.id} is larger than its recorded ${release.size} bytes`,
              );
            }
            digest.update(chunk);
            yield chunk;
          }
        } catch (err) {
          if (!(err instanceof StrataError)) broken = err;
          throw err;
        }
      };
      const body = Readable.from(tap(res.body as AsyncIterable<Uint8Array>));
      try {
        return await extractStream(body, release.artifact_path, dir, options.extract, () => {
          if (bytes < release.size) {
            broken = new Error(`body ended after ${bytes} of ${release.size} bytes`);
            throw broken;
          }
          if (digest.id() !== release.id) {
            throw new StrataError(
              "checksum_mismatch",
              `[agent] fetch: checksum mismatch for ${release.id} (got ${digest.id()})`,
            );
          }
        });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (broken) throw new Transient(`${release.artifact_path}: ${messageOf(broken)}`);
        throw err;
      } finally {
        body.destroy();
      }
    }, signal);

  /** Fetches what the store lacks in one pack request (retried: each try asks for what is still missing). */
  const fillStore = async (
    release: DesiredRelease,
    entries: ManifestEntry[],
    signal: AbortSignal,
  ) => {
    const wanted = new Map<string, { size: number; modes: Set<0o644 | 0o755> }>();
    const all = new Set<string>();
    for (const entry of entries) {
      if (entry.kind !== "file") continue;
      all.add(entry.sha256);
      if (store.has(entry.sha256, entry.mode)) continue;
      const other = entry.mode === 0o755 ? 0o644 : 0o755;
      if (store.has(entry.sha256, other)) {
        store.copyMode(entry.sha256, other);
        continue;
      }
      const want = wanted.get(entry.sha256) ?? { size: entry.size, modes: new Set() };
      want.modes.add(entry.mode);
      wanted.set(entry.sha256, want);
    }
    let downloaded = 0;
    const asked = wanted.size;
    await retried(async () => {
      if (wanted.size === 0) return;
      const want = [...wanted.keys()];
      const body =
        want.length <= all.size / 2
          ? { want }
          : { except: [...all].filter((sha) => !wanted.has(sha)) };
      const res = await call(
        `/v1/releases/${release.id}/pack`,
        {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
        },
        signal,
      );
      if (res.status === 404 || !res.body) {
        throw new StrataError(
          "not_found",
          `[agent] fetch: ${release.id} has no pack on the control plane`,
        );
      }
      const counted = async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          downloaded += chunk.length;
          yield chunk;
        }
      };
      try {
        for await (const frame of readFrames(
          counted(res.body as AsyncIterable<Uint8Array>),
          limits.maxBytes,
        )) {
          const want = wanted.get(frame.sha256);
          if (!want) throw unexpected(release, `a blob not asked for (${frame.sha256})`);
          const data = frame.raw
            ? frame.data
            : inflate(frame.data, want.size, release, frame.sha256);
          if (data.length !== want.size) {
            throw unexpected(
              release,
              `${frame.sha256}: ${data.length} bytes, expected ${want.size}`,
            );
          }
          const actual = createHash("sha256").update(data).digest("hex");
          if (actual !== frame.sha256) {
            throw new StrataError(
              "checksum_mismatch",
              `[agent] fetch: checksum mismatch for a file of ${release.id} (${frame.sha256}, got ${actual})`,
            );
          }
          for (const mode of want.modes) store.write(frame.sha256, mode, data);
          wanted.delete(frame.sha256);
        }
      } catch (err) {
        if (err instanceof StrataError && err.code !== "unavailable") throw err;
        if (signal.aborted) throw signal.reason;
        throw new Transient(`pack of ${release.id}: ${messageOf(err)}`, { cause: err });
      }
      if (wanted.size > 0)
        throw new Transient(`pack of ${release.id}: ${wanted.size} files missing`);
    }, signal);
    return { asked, downloaded, files: all.size };
  };

  const releases = join(options.root, "releases");
  /** A release extracted whole whose files are still to join the store. */
  let adopting: { id: string; dir: string; entries: ManifestEntry[] } | null = null;
  /** Whether a build ran since the last collection. */
  let dirty = false;
  let upkeep: Promise<void> = Promise.resolve();
  const adoptFiles = async (job: NonNullable<typeof adopting>) => {
    const started = options.clock.now();
    let joined = 0;
    let refused = 0;
    for (const [i, entry] of job.entries.entries()) {
      if (entry.kind !== "file") continue;
      const file = join(job.dir, ...entry.path.split("/"));
      if (store.adopt(entry.sha256, entry.mode, file, files)) joined++;
      else refused++;
      // Each file is a few syscalls and a hash: let heartbeats and the long poll through.
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
    }
    const changed = refused ? `, ${refused} changed or gone since the extraction and left out` : "";
    options.log?.(
      `[cas] ${job.id}: ${joined} files joined the store${changed} (${options.clock.now() - started} ms)`,
    );
  };
  const collect = async () => {
    const started = options.clock.now();
    const live = new Set((await readdir(releases).catch(() => [] as string[])).map(hexOfDir));
    const usage = await store.collect(live);
    options.log?.(
      `[cas] store upkeep done: ${usage.blobs} blobs, ${usage.bytes} bytes kept (${options.clock.now() - started} ms)`,
    );
  };
  const settle = () => {
    if (!dirty) return upkeep;
    dirty = false;
    // Housekeeping: it yields the CPU to the app that just started (and to other servers on a shared host).
    upkeep = upkeep.then(() =>
      atLowPriority(async () => {
        try {
          const job = adopting;
          adopting = null;
          if (job) await adoptFiles(job);
          await collect();
        } catch (err) {
          options.log?.(`[cas] store upkeep: ${messageOf(err)}`);
        }
      }),
    );
    return upkeep;
  };

  const build: ReleaseBuilder = async (release, dir, run, signal) => {
    const key = options.releaseKey();
    await settle();
    let manifest: Awaited<ReturnType<typeof fetchManifest>> = null;
    /** Set when the tarball was extracted as it streamed (a full deploy). */
    let extracted: { files: number; bytes: number } | null = null;
    const tarball = join(options.root, "tmp", `${releaseDirName(release.id)}.tar`);
    try {
      await run("fetch", async () => {
        const started = options.clock.now();
        manifest = key ? await fetchManifest(release, key, signal) : null;
        if (!manifest) {
          await mkdir(join(options.root, "tmp"), { recursive: true });
          await options.fetchTarball(release, tarball, signal);
          return `${release.size} bytes, checksum verified (whole tarball: no file manifest)`;
        }
        const listed = options.clock.now();
        const { missing, total } = missingBytes(manifest.entries);
        if (missing > total * WHOLE_TARBALL_SHARE) {
          extracted = await streamTarball(release, dir, signal);
          const share = Math.round((missing / Math.max(1, total)) * 100);
          const summary = `${release.size} bytes, checksum verified, extracted as it streamed (whole tarball: the store lacks ${share}% of the release)`;
          const took = `manifest ${listed - started} ms, tarball ${options.clock.now() - listed} ms`;
          options.log?.(`[cas] ${release.id}: ${summary} (${took})`);
          return summary;
        }
        const got = await fillStore(release, manifest.entries, signal);
        const bytes = manifest.downloaded + got.downloaded;
        const summary = `${got.asked} of ${got.files} distinct files fetched, ${bytes} bytes, each checksum verified`;
        const took = `manifest ${listed - started} ms, pack ${options.clock.now() - listed} ms`;
        options.log?.(`[cas] ${release.id}: ${summary} (${took})`);
        return summary;
      });
      await run("extract", async () => {
        const found = manifest as Awaited<ReturnType<typeof fetchManifest>>;
        if (!found) {
          const { files: count, bytes } = await extractArchive(tarball, dir, options.extract);
          if (options.runAs) await giveTree(dir, options.runAs);
          return `${count} files, ${bytes} bytes`;
        }
        const started = options.clock.now();
        if (extracted) {
          const { files: count, bytes } = extracted as { files: number; bytes: number };
          const member = await readFile(join(dir, MANIFEST_FILE)).catch(() => null);
          if (!member?.equals(found.bytes)) {
            await rm(dir, { recursive: true, force: true });
            throw new StrataError(
              "unsafe_archive",
              `[agent] extract: ${release.id}: its ${MANIFEST_FILE} is not the signed manifest`,
            );
          }
          if (options.runAs) ownRelease(dir, found.entries, options.runAs, files);
          await store.keepManifest(hexOfDir(releaseDirName(release.id)), found.bytes);
          // Linking or copying 10,000 files into the store would double the
          // extraction's file-system work on the deploy's path: they join it
          // in settle(), checked against their sha256 (the app may run by then).
          adopting = { id: release.id, dir, entries: found.entries };
          const summary = `${count} files, ${bytes} bytes extracted while fetching, joining the store after the deploy`;
          options.log?.(`[cas] ${release.id}: ${summary} (${options.clock.now() - started} ms)`);
          return summary;
        }
        const made = await materialise({
          store,
          entries: found.entries,
          manifest: found.bytes,
          dest: dir,
          files,
          ...(options.runAs ? { runAs: options.runAs } : {}),
        });
        await store.keepManifest(hexOfDir(releaseDirName(release.id)), found.bytes);
        const summary = `${made.files} files, ${made.bytes} bytes from the store (${made.linked} linked, ${made.copied} copied)`;
        options.log?.(`[cas] ${release.id}: ${summary} (${options.clock.now() - started} ms)`);
        return summary;
      });
    } finally {
      await rm(tarball, { force: true });
      dirty = true;
    }
  };

  return { build, store, settle };
}

/** The builder of a running agent, from its parts. */
export function createAgentReleaseBuilder(agent: {
  config: { root: string; server: string; ca?: string; maxUnpackedBytes?: number };
  client: { readonly token: string | null };
  session: { readonly releaseKey: string | null };
  runAs?: RunAs;
  clock: Clock;
  log: (line: string) => void;
  fetchTarball: ReleaseBuilderOptions["fetchTarball"];
}): CasReleaseBuilder {
  const { config, client, session, runAs } = agent;
  return createCasReleaseBuilder({
    root: config.root,
    server: config.server,
    ...(config.ca ? { ca: config.ca } : {}),
    ...(config.maxUnpackedBytes ? { extract: { maxBytes: config.maxUnpackedBytes } } : {}),
    ...(runAs ? { runAs } : {}),
    token: () => client.token ?? "",
    releaseKey: () => session.releaseKey ?? undefined,
    fetchTarball: agent.fetchTarball,
    clock: agent.clock,
    log: agent.log,
  });
}

/** The hex of a release folder's name (`sha256-<hex>`). */
const hexOfDir = (name: string) => name.replace(/^sha256-/, "");

function inflate(data: Buffer, size: number, release: DesiredRelease, sha256: string): Buffer {
  try {
    return inflateRawSync(data, { maxOutputLength: Math.max(1, size) });
  } catch (err) {
    throw unexpected(release, `${sha256}: ${messageOf(err)}`);
  }
}

function unexpected(release: DesiredRelease, what: string): StrataError {
  return new StrataError("unsafe_archive", `[agent] fetch: pack of ${release.id}: ${what}`);
}

export type { StoreUsage };
