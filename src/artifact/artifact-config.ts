import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { durationMs, oneOf } from "../lib/config-section.js";
import { ConfigError } from "../lib/errors.js";
import { createLocalArtifactStore } from "./local/local-store.js";
import { createS3ArtifactStore } from "./s3/s3-store.js";
import type { ArtifactStore } from "./store.js";

const MiB = 1024 * 1024;

/**
 * The `artifacts` section of strata.yaml: where release tarballs live.
 *
 * ```yaml
 * artifacts: local                               # the default: <data_dir>/artifacts
 * artifacts:
 *   s3:
 *     endpoint: http://swift.internal:8080       # any S3 API: AWS, Ceph RGW, Swift s3api, MinIO
 *     bucket: strata
 *     region: RegionOne                          # @default us-east-1
 *     access_key_id_env: STRATA_S3_ACCESS_KEY_ID         # @default (these two names)
 *     secret_access_key_env: STRATA_S3_SECRET_ACCESS_KEY
 *     # or secret_access_key_file: /etc/strata/s3-secret
 * ```
 *
 * Secrets never sit in the file itself: an environment variable or a file.
 */
export const ArtifactsConfigSchema = oneOf(
  {
    local: z.strictObject({
      /** Folder; relative to data_dir. @default "artifacts" */
      dir: z.string().min(1).optional(),
    }),
    s3: z.strictObject({
      endpoint: z.url({ protocol: /^https?$/, error: "expected an http(s):// URL" }),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name"),
      region: z.string().min(1).optional(),
      prefix: z.string().optional(),
      /** The access key id itself is not a secret; it may be given here or by env. */
      access_key_id: z.string().min(1).optional(),
      access_key_id_env: z.string().min(1).optional(),
      secret_access_key_env: z.string().min(1).optional(),
      secret_access_key_file: z.string().min(1).optional(),
      /** Multipart part size in MiB (S3: at least 5). @default 8 */
      part_size_mib: z.number().int().min(5).max(5120).optional(),
      /** Life of the download URLs handed to agents. @default 15m */
      presign_ttl: durationMs().optional(),
    }),
  },
  ["local"],
);
export type ArtifactsConfig = z.infer<typeof ArtifactsConfigSchema>;

/**
 * Builds the artifact store the config names; the default is a local folder
 * in `dataDir`. Reads S3 credentials from the environment or the file named.
 */
export async function createConfiguredArtifactStore(
  config: ArtifactsConfig | undefined,
  context: { dataDir: string; env?: NodeJS.ProcessEnv },
): Promise<ArtifactStore> {
  const s3 = config?.s3;
  if (!s3)
    return createLocalArtifactStore({
      dir: join(context.dataDir, config?.local?.dir ?? "artifacts"),
    });
  const env = context.env ?? process.env;
  const idEnv = s3.access_key_id_env ?? "STRATA_S3_ACCESS_KEY_ID";
  const secretEnv = s3.secret_access_key_env ?? "STRATA_S3_SECRET_ACCESS_KEY";
  const accessKeyId = s3.access_key_id ?? env[idEnv];
  let secretAccessKey = env[secretEnv];
  if (s3.secret_access_key_file) {
    try {
      secretAccessKey = readFileSync(s3.secret_access_key_file, "utf8").trim();
    } catch (err) {
      throw new ConfigError(
        "artifacts.s3.secret_access_key_file",
        `[config] artifacts.s3.secret_access_key_file: cannot read ${s3.secret_access_key_file}`,
        { cause: err },
      );
    }
  }
  if (!accessKeyId)
    throw new ConfigError(
      "artifacts.s3.access_key_id",
      `[config] artifacts.s3: no access key id (set ${idEnv})`,
    );
  if (!secretAccessKey)
    throw new ConfigError(
      "artifacts.s3.secret_access_key_env",
      `[config] artifacts.s3: no secret access key (set ${secretEnv} or secret_access_key_file)`,
    );
  const store = createS3ArtifactStore({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    ...(s3.region ? { region: s3.region } : {}),
    ...(s3.prefix ? { prefix: s3.prefix } : {}),
    credentials: { accessKeyId, secretAccessKey },
    ...(s3.part_size_mib ? { partSize: s3.part_size_mib * MiB } : {}),
    ...(s3.presign_ttl ? { presignSeconds: Math.floor(s3.presign_ttl / 1000) } : {}),
  });
  await store.ensureBucket();
  return store;
}
