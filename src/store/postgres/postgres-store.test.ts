import { readdirSync } from "node:fs";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import pg from "pg";
import { ENGINES, engineSkipReason } from "../../lib/engine-tests.js";
import { runAuditRepoContract } from "../audit-repo.contract.js";
import { runDeploymentRepoContract } from "../deployment-repo.contract.js";
import { runDesiredRepoContract } from "../desired-repo.contract.js";
import { runForecastRepoContract } from "../forecast-repo.contract.js";
import { runGroupRepoContract } from "../group-repo.contract.js";
import { runImageRepoContract } from "../image-repo.contract.js";
import { runReleaseRepoContract } from "../release-repo.contract.js";
import { runServerRepoContract } from "../server-repo.contract.js";
import { runSecretRepoContract } from "../secret-repo.contract.js";
import type { Store } from "../store.js";
import { runTrafficRepoContract } from "../traffic-repo.contract.js";
import { ensureSchema } from "./migrate.js";
import { createPostgresStore, redact } from "./postgres-store.js";

const url = ENGINES.postgresUrl;
const skip = await engineSkipReason("PostgreSQL", async () => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await client.connect();
  await client.end();
});

/** A store in a schema of its own, dropped afterwards. */
async function openStore(schema = `t_${randomBytes(6).toString("hex")}`) {
  const store = await createPostgresStore({ url, schema, maxConnections: 4 });
  return {
    store,
    schema,
    close: async () => {
      await store.pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await store.close();
    },
  };
}

function contract<K extends keyof Store>(key: K) {
  return async () => {
    const { store, close } = await openStore();
    return { repo: store[key], close };
  };
}

if (skip) {
  test("PostgreSQL store", { skip }, () => {});
} else {
  runReleaseRepoContract({ create: contract("releases") });
  runGroupRepoContract({ create: contract("groups") });
  runSecretRepoContract({ create: contract("secrets") });
  runServerRepoContract({ create: contract("servers") });
  runDeploymentRepoContract({ create: contract("deployments") });
  runDesiredRepoContract({ create: contract("desired") });
  runImageRepoContract({ create: contract("images") });
  runTrafficRepoContract({ create: contract("traffic") });
  runForecastRepoContract({ create: contract("forecasts") });
  runAuditRepoContract({
    create: async () => {
      const { store, close } = await openStore();
      // The table owner can switch the trigger off; the chain must still tell.
      const unguarded = async (sql: string, values: unknown[]) => {
        await store.pool.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change");
        await store.pool.query(sql, values);
      };
      return {
        repo: store.audit,
        close,
        tamper: {
          edit: (id, detail) =>
            unguarded("UPDATE audit_log SET detail = $1 WHERE id = $2", [
              JSON.stringify(detail),
              id,
            ]),
          remove: (id) => unguarded("DELETE FROM audit_log WHERE id = $1", [id]),
          swap: (a, b) =>
            unguarded(
              `UPDATE audit_log AS t SET at = o.at, actor = o.actor, action = o.action,
                 subject = o.subject, detail = o.detail, prev_hash = o.prev_hash, hash = o.hash
               FROM audit_log AS o WHERE (t.id, o.id) IN (($1, $2), ($2, $1))`,
              [a, b],
            ),
        },
      };
    },
  });

  describe("PostgreSQL store", () => {
    test("replicas creating one new schema at once all succeed", async () => {
      // Regression: PostgreSQL's CREATE SCHEMA IF NOT EXISTS races itself, so two replicas
      // starting at once on a new schema failed one of them a third of the time (CI, 23505).
      const pools = Array.from({ length: 2 }, () => new pg.Pool({ connectionString: url }));
      await Promise.all(pools.map((p) => p.query("SELECT 1")));
      const schemas = Array.from({ length: 10 }, () => `t_${randomBytes(6).toString("hex")}`);
      const results = await Promise.allSettled(
        schemas.flatMap((s) => pools.map((p) => ensureSchema(p, s))),
      );
      for (const s of schemas) await pools[0]!.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await Promise.all(pools.map((p) => p.end()));
      assert.deepEqual(
        results.filter((r) => r.status === "rejected").map((r) => String(r.reason)),
        [],
      );
    });

    test("two replicas starting at once apply each migration once", async () => {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      const [a, b] = await Promise.all([
        createPostgresStore({ url, schema }),
        createPostgresStore({ url, schema }),
      ]);
      const { rows } = await a.pool.query("SELECT name FROM schema_migrations ORDER BY name");
      assert.deepEqual(
        rows.map((r) => r.name),
        readdirSync(new URL("./migrations/", import.meta.url))
          .filter((f) => f.endsWith(".sql"))
          .sort(),
      );
      await a.groups.ensure("web");
      assert.equal((await b.groups.get("web"))?.name, "web", "both see one database");
      await a.pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await Promise.all([a.close(), b.close()]);
    });

    test("the audit log refuses edits through the database's own trigger", async () => {
      const { store, close } = await openStore();
      await store.audit.append({ at: 1, actor: "a", action: "x", subject: "s", detail: {} });
      await assert.rejects(store.pool.query("UPDATE audit_log SET actor = 'b'"), /append-only/);
      await assert.rejects(store.pool.query("DELETE FROM audit_log"), /append-only/);
      await close();
    });

    test("an unreachable server is `unavailable`, and the message hides the password", async () => {
      const bad = "postgres://strata:secret@127.70.0.1:1/strata";
      await assert.rejects(createPostgresStore({ url: bad }), (err: Error & { code?: string }) => {
        assert.equal(err.code, "unavailable");
        assert.ok(!err.message.includes("secret"), err.message);
        return true;
      });
      assert.equal(redact(bad), "postgres://strata:***@127.70.0.1:1/strata");
    });
  });
}
