import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Hono } from "hono";
import type { ArtifactStore } from "../../artifact/store.js";
import { isReleaseId } from "../../artifact/digest.js";
import type { ReleaseSigner } from "../../artifact/signing.js";
import { verifyStoredRelease } from "../../artifact/verify.js";
import { createReleaseIndexer, storeReleaseIndex } from "../../cas/release-index.js";
import { isoTime, type Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import type { Store } from "../../store/store.js";
import { currentActor } from "../access.js";
import { badRequest } from "../http-errors.js";
import { APP_NAME, VERSION } from "../../wire/names.js";
import { releaseFileRoutes } from "./release-files.js";

/**
 * Upload: `POST /releases?app=A&version=V` with the tarball as the body and
 * `x-strata-release-id` / `x-strata-file-count` from the builder; the store
 * verifies the id while the bytes stream in, then the archive is checked
 * (safe entries, a valid strata.yaml) before the release is recorded.
 */
export function releaseRoutes(deps: {
  store: Store;
  artifacts: ArtifactStore;
  clock: Clock;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  signer?: ReleaseSigner | undefined;
}): Hono {
  const { store, artifacts, clock } = deps;
  const app = new Hono();

  app.post("/", async (c) => {
    const appName = c.req.query("app") ?? "";
    const version = c.req.query("version") ?? "";
    const id = c.req.header("x-strata-release-id") ?? "";
    const fileCount = Number(c.req.header("x-strata-file-count") ?? "0");
    if (!APP_NAME.test(appName))
      throw badRequest(`[server] app: "${appName}" must be lowercase letters, digits, . _ -`);
    if (!VERSION.test(version))
      throw badRequest(`[server] version: "${version}" is not a valid version`);
    if (!isReleaseId(id))
      throw badRequest("[server] x-strata-release-id: expected sha256:<64 hex>");
    const existing = await store.releases.get(appName, version);
    if (existing && existing.id !== id) {
      throw new StrataError(
        "conflict",
        `[server] release ${appName}@${version} exists already as ${existing.id}; pick a new version`,
      );
    }
    const body = c.req.raw.body;
    if (!body) throw badRequest("[server] release upload: empty body");
    const { size } = await artifacts.put(id, Readable.fromWeb(body as WebReadableStream));
    if (!existing) {
      // 422 naming the problem; nothing recorded. The same pass indexes the files (src/cas/).
      const indexer = createReleaseIndexer();
      await verifyStoredRelease(artifacts, id, {}, indexer.visitor);
      const indexed = indexer.result();
      if (indexed) await storeReleaseIndex(artifacts, id, indexed);
    }
    const release = {
      id,
      app: appName,
      version,
      size,
      file_count: fileCount,
      created_at: isoTime(clock.now()),
    };
    await store.releases.insert(release);
    await deps.audit("release.create", `${appName}@${version}`, { release: id, size });
    return c.json((await store.releases.get(appName, version))!, 201);
  });

  app.get("/", async (c) => c.json({ releases: await store.releases.list(c.req.query("app")) }));

  app.get("/:id/artifact", async (c) => {
    const id = c.req.param("id");
    if (!isReleaseId(id)) throw badRequest(`[server] artifact: "${id}" is not a release id`);
    // fetch drops the Authorization header on a redirect to another origin: the token stays here.
    // A bake's builder gets the bytes from here: wget resends its header to a redirect's host.
    if (artifacts.presign && !currentActor().startsWith("bake:"))
      return c.redirect(await artifacts.presign(id), 307);
    const found = await artifacts.open(id);
    if (!found) throw new StrataError("not_found", `[server] artifact ${id} is not in the store`);
    return c.body(Readable.toWeb(found.stream) as ReadableStream, 200, {
      "content-type": "application/gzip",
      "content-length": String(found.size),
    });
  });

  app.route("/", releaseFileRoutes(deps));
  return app;
}
