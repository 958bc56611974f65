import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { Hono } from "hono";
import type { ArtifactStore } from "../../artifact/store.js";
import { isReleaseId } from "../../artifact/digest.js";
import type { ReleaseSigner } from "../../artifact/signing.js";
import { manifestDigest } from "../../cas/manifest.js";
import { packFrames, selectBlobs } from "../../cas/pack-stream.js";
import type { ReleaseIndex } from "../../cas/release-index.js";
import { StrataError } from "../../lib/errors.js";
import { PACK_REQUEST_LIMIT, PackRequestSchema } from "../../wire/pack.js";
import { badRequest } from "../http-errors.js";
import { readJson } from "../validate.js";

/** Indexes kept in memory: agents of one deployment all ask about the same release. */
const CACHED_INDEXES = 8;

/**
 * What agents build a release from instead of its tarball (src/cas/):
 * `GET /:id/manifest` (gzip'd, its digest signed with the release id in
 * `x-strata-manifest-signature`; 404 for a release without one) and
 * `POST /:id/pack` (the contents asked for, as frames). Agents call both with
 * their own token.
 */
export function releaseFileRoutes(deps: {
  artifacts: ArtifactStore;
  signer?: ReleaseSigner | undefined;
}): Hono {
  const { artifacts, signer } = deps;
  const app = new Hono();
  const manifests = new Map<string, { body: Buffer; signature: string }>();
  const indexes = new Map<string, Promise<ReleaseIndex | null>>();

  const remember = <V>(cache: Map<string, V>, id: string, value: V) => {
    cache.set(id, value);
    if (cache.size > CACHED_INDEXES) cache.delete(cache.keys().next().value!);
    return value;
  };
  const idOf = (raw: string) => {
    if (!isReleaseId(raw)) throw badRequest(`[server] release: "${raw}" is not a release id`);
    return raw;
  };
  const readPart = async (id: string, part: "manifest" | "index") => {
    const found = await artifacts.openPart(id, part);
    if (!found) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of found.stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const loadIndex = (id: string) =>
    indexes.get(id) ??
    remember(
      indexes,
      id,
      readPart(id, "index").then(
        (bytes) => (bytes ? (JSON.parse(bytes.toString()) as ReleaseIndex) : null),
        (err: unknown) => {
          indexes.delete(id);
          throw err;
        },
      ),
    );

  app.get("/:id/manifest", async (c) => {
    const id = idOf(c.req.param("id"));
    let found = manifests.get(id);
    if (!found) {
      const body = signer ? await readPart(id, "manifest") : null;
      if (!body) throw new StrataError("not_found", `[server] release ${id} has no file manifest`);
      const signature = signer!.signManifest(id, manifestDigest(gunzipSync(body)));
      found = remember(manifests, id, { body, signature });
    }
    return c.body(new Uint8Array(found.body), 200, {
      "content-type": "application/gzip",
      "x-strata-manifest-signature": found.signature,
    });
  });

  app.post("/:id/pack", async (c) => {
    const id = idOf(c.req.param("id"));
    const request = await readJson(c, PackRequestSchema, "pack", PACK_REQUEST_LIMIT);
    const index = await loadIndex(id);
    if (!index) throw new StrataError("not_found", `[server] release ${id} has no file index`);
    const picked = selectBlobs(index, request);
    const stream = Readable.from(packFrames(artifacts, id, picked), { objectMode: false });
    return c.body(Readable.toWeb(stream) as ReadableStream, 200, {
      "content-type": "application/octet-stream",
    });
  });

  return app;
}
