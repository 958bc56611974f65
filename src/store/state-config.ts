import { join } from "node:path";
import { z } from "zod";
import type { Clock } from "../lib/clock.js";
import { oneOf } from "../lib/config-section.js";
import { createPostgresStore } from "./postgres/postgres-store.js";
import { createSqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/**
 * The `state` section of strata.yaml: where durable state lives.
 *
 * ```yaml
 * state: sqlite                                  # the default: <data_dir>/state.db
 * state: { sqlite: { path: /var/lib/strata/state.db } }
 * state: { postgres: { url: postgres://strata@db.internal/strata, schema: strata } }
 * ```
 *
 * A PostgreSQL password is best left out of the URL: `pg` reads PGPASSWORD
 * (and ~/.pgpass) as libpq does.
 */
export const StateConfigSchema = oneOf(
  {
    sqlite: z.strictObject({
      /** Database file; relative to data_dir. @default "state.db" */
      path: z.string().min(1).optional(),
    }),
    postgres: z.strictObject({
      url: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL"),
      /** @default "public" */
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a lowercase SQL identifier")
        .optional(),
      /** Connections per replica. @default 10 */
      max_connections: z.number().int().min(1).max(1000).optional(),
    }),
  },
  ["sqlite"],
);
export type StateConfig = z.infer<typeof StateConfigSchema>;

/** Opens the store the config names (migrating it); the default is SQLite in `dataDir`. */
export async function createStore(
  config: StateConfig | undefined,
  context: { dataDir: string; clock: Clock },
): Promise<Store> {
  if (config?.postgres) {
    return createPostgresStore({
      url: config.postgres.url,
      ...(config.postgres.schema ? { schema: config.postgres.schema } : {}),
      ...(config.postgres.max_connections
        ? { maxConnections: config.postgres.max_connections }
        : {}),
      clock: context.clock,
    });
  }
  const path = config?.sqlite?.path ?? "state.db";
  return createSqliteStore({ path: join(context.dataDir, path), clock: context.clock });
}
