import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createConfiguredArtifactStore } from "../artifact/artifact-config.js";
import { parseServerConfig } from "../config/server-config.js";
import { parseEngines } from "./engines.js";

const engines = (yaml: string) => parseEngines(parseServerConfig(yaml, "strata.yaml").sections);

const refused = (yaml: string, key: string, message: RegExp) =>
  assert.throws(
    () => engines(yaml),
    (err: Error & { key?: string }) => {
      assert.equal(err.key, key, err.message);
      assert.match(err.message, message);
      return true;
    },
  );

test("absent sections mean the embedded defaults", () => {
  assert.deepEqual(engines(""), {
    state: undefined,
    coordination: undefined,
    artifacts: undefined,
  });
});

test("each engine is picked by name, as a mapping or a bare default name", () => {
  const all = engines(`
state: { postgres: { url: "postgres://strata@127.0.0.1/strata", schema: strata } }
coordination: { etcd: { endpoints: ["http://127.0.0.1:2379"], prefix: /strata, lease_ttl: 5s } }
artifacts: { s3: { endpoint: "http://127.0.0.1:8080", bucket: strata, region: RegionOne } }
`);
  assert.equal(all.state?.postgres?.url, "postgres://strata@127.0.0.1/strata");
  assert.equal(all.coordination?.etcd?.lease_ttl, 5000);
  assert.equal(all.artifacts?.s3?.bucket, "strata");
  const bare = engines("state: sqlite\ncoordination: embedded\nartifacts: local\n");
  assert.deepEqual(bare, {
    state: { sqlite: {} },
    coordination: { embedded: {} },
    artifacts: { local: {} },
  });
});

test("an unknown engine name is an error naming the key", () => {
  refused("state: { mysql: { url: x } }", "state.mysql", /unknown key/);
  refused("coordination: zookeeper", "coordination", /"zookeeper"/);
  refused("artifacts: { gcs: {} }", "artifacts.gcs", /unknown key/);
  refused(
    "state: { sqlite: {}, postgres: { url: 'postgres://x' } }",
    "state",
    /exactly one of sqlite, postgres/,
  );
});

test("bad values name their key", () => {
  refused("state: { postgres: { url: mysql://x } }", "state.postgres.url", /postgres:\/\//);
  refused(
    "state: { postgres: { url: 'postgres://x', pool: 3 } }",
    "state.postgres.pool",
    /unknown key/,
  );
  refused("coordination: { etcd: { endpoints: [] } }", "coordination.etcd.endpoints", /./);
  // Regression: a bad value inside the mapping form named only the section (`coordination`).
  refused(
    "coordination: { etcd: { endpoints: ['http://e:2379'], lease_ttl: 10 } }",
    "coordination.etcd.lease_ttl",
    /expected a duration .*, got 10$/,
  );
  refused(
    "coordination: { etcd: { endpoints: ['http://e:2379'], lease_ttl: 10x } }",
    "coordination.etcd.lease_ttl",
    /got "10x"$/,
  );
  refused(
    "artifacts: { s3: { endpoint: 'ftp://x', bucket: strata } }",
    "artifacts.s3.endpoint",
    /http/,
  );
});

test("S3 credentials come from the environment or a file, never from strata.yaml", async () => {
  const s3 = engines(
    "artifacts: { s3: { endpoint: 'http://127.70.0.9:1', bucket: strata } }",
  ).artifacts;
  assert.ok(!("secret_access_key" in (s3?.s3 ?? {})));
  await assert.rejects(createConfiguredArtifactStore(s3, { dataDir: "/tmp", env: {} }), {
    key: "artifacts.s3.access_key_id",
  });
  await assert.rejects(
    createConfiguredArtifactStore(s3, { dataDir: "/tmp", env: { STRATA_S3_ACCESS_KEY_ID: "id" } }),
    { key: "artifacts.s3.secret_access_key_env" },
  );
  refused(
    "artifacts: { s3: { endpoint: 'http://e', bucket: strata, secret_access_key: x } }",
    "artifacts.s3.secret_access_key",
    /unknown key/,
  );
  const dir = await mkdtemp(join(tmpdir(), "strata-s3-"));
  try {
    await writeFile(join(dir, "secret"), "from-file\n");
    const fromFile = engines(
      `artifacts: { s3: { endpoint: 'http://127.70.0.9:1', bucket: strata, access_key_id: id, secret_access_key_file: ${join(dir, "secret")} } }`,
    ).artifacts;
    // The credentials were found: what fails now is reaching the (absent) endpoint.
    await assert.rejects(createConfiguredArtifactStore(fromFile, { dataDir: dir, env: {} }), {
      code: "unavailable",
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
