import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalArtifactStore } from "../artifact/local/local-store.js";
import { packDirectory } from "../artifact/pack.js";
import type { ArtifactStore } from "../artifact/store.js";
import { systemClock } from "../lib/clock.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { AuditEntry, DeploymentRecord, Store } from "../store/store.js";
import type { Release } from "../wire/release.js";
import { parseImageConfig } from "./image-config.js";
import type { ImageRepo } from "../store/image-repo.js";
import { createImageService, type ImageService } from "./image-service.js";
import { createLocalImageStore, type LocalImageStore } from "./local/local-image-store.js";

/** A real image service on an in-memory store and temp folders, for the service's and its routes' tests. */
export interface ImageFixture {
  work: string;
  store: Store;
  repo: ImageRepo;
  images: LocalImageStore;
  artifacts: ArtifactStore;
  service: ImageService;
  audit: Omit<AuditEntry, "id">[];
  recipe: string;
  /** Holds artifact downloads (the bake's) until released. */
  gate: {
    hold(): void;
    release(): void;
    /** Resolves once a download waits at the held gate (at once if one already does). */
    reached(): Promise<void>;
  };
  release(version: string): Promise<Release>;
  /** Records what a successful deployment records, then tells the service, like the deployer. */
  deploy(release: Release, group?: string): void;
}

export async function setupImageService(
  options: { recipe?: boolean; keep?: number; provision?: string } = {},
): Promise<ImageFixture> {
  const work = await mkdtemp(join(tmpdir(), "strata-image-service-"));
  const store = createSqliteStore({ path: ":memory:" });
  const repo = store.images;
  const images = createLocalImageStore({ dir: join(work, "images") });
  const real = createLocalArtifactStore({ dir: join(work, "artifacts") });
  let held: Promise<void> | null = null;
  let open: (() => void) | null = null;
  let arrivals = 0;
  const onArrival: (() => void)[] = [];
  const gate = {
    hold: () => {
      arrivals = 0;
      held = new Promise((resolve) => (open = resolve));
    },
    release: () => {
      open?.();
      held = null;
    },
    reached: () =>
      arrivals > 0 ? Promise.resolve() : new Promise<void>((resolve) => onArrival.push(resolve)),
  };
  const artifacts: ArtifactStore = {
    ...real,
    open: async (id) => {
      if (held) {
        arrivals++;
        for (const resolve of onArrival.splice(0)) resolve();
      }
      await held;
      return real.open(id);
    },
  };
  const recipe = join(work, "recipe");
  await mkdir(recipe);
  await writeFile(join(recipe, "nginx.conf"), "worker_processes 1;\n");
  await writeFile(
    join(recipe, "provision.sh"),
    options.provision ?? "echo provisioning; mkdir -p var/log\n",
  );
  const config = parseImageConfig(
    {
      images: { keep: options.keep ?? 5 },
      groups: options.recipe === false ? {} : { web: { recipe: "./recipe" } },
    },
    work,
  );
  const audit: Omit<AuditEntry, "id">[] = [];
  const service = createImageService({
    store,
    images,
    artifacts,
    config,
    clock: systemClock,
    audit: async (action, subject, detail = {}) => {
      audit.push({ at: Date.now(), actor: "test", action, subject, detail });
    },
  });
  await store.groups.ensure("web");
  let n = 0;
  return {
    work,
    store,
    repo,
    images,
    artifacts,
    service,
    audit,
    recipe,
    gate,
    async release(version) {
      const dir = join(work, `app-${n++}`);
      await mkdir(dir);
      await writeFile(join(dir, "strata.yaml"), "start: node server.js\n");
      await writeFile(join(dir, "server.js"), `// ${version}\n`);
      const packed = await packDirectory(dir, join(work, `app-${n}.tar.gz`));
      await real.put(packed.id, createReadStream(packed.file));
      const release = {
        id: packed.id,
        app: "hello",
        version,
        size: packed.size,
        file_count: packed.fileCount,
        created_at: new Date().toISOString(),
      };
      await store.releases.insert(release);
      return release;
    },
    deploy(release, group = "web") {
      void store.groups.update(group, { desired_release: release.id, app: "hello" });
      service.onDeploymentSucceeded({
        id: `d-${release.version}`,
        group,
        release: release.id,
      } as DeploymentRecord);
    },
  };
}
