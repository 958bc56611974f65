import type pg from "pg";
import type { BakeRecord, ChannelRecord, ImageRecord, ImageRepo } from "../image-repo.js";
import { insertSql, setClause, withGroup } from "./sql.js";

type Row = Record<string, unknown>;

const IMAGE_FIELDS = new Set<string>([
  "group",
  "layer",
  "name",
  "parent",
  "recipe_hash",
  "release",
  "version",
  "bake_key",
  "state",
  "size",
  "created_at",
  "baked_at",
  "bake_ms",
  "error",
]);
const BAKE_FIELDS = new Set<string>([
  "group",
  "release",
  "reason",
  "state",
  "step",
  "image",
  "middleware_image",
  "detail",
  "error",
  "output",
  "requested_at",
  "started_at",
  "finished_at",
]);
const GROUP_COLUMN = { group: "grp" };

/** Only known fields may be set (a patch is typed, but may come with extras at run time). */
function pick(patch: Row, allowed: Set<string>): Row {
  return Object.fromEntries(Object.entries(patch).filter(([k]) => allowed.has(k)));
}

function whereOf(filter: { group?: string; layer?: string; states?: string[] }): {
  sql: string;
  values: unknown[];
} {
  const where: string[] = [];
  const values: unknown[] = [];
  if (filter.group) where.push(`grp = $${values.push(filter.group)}`);
  if (filter.layer) where.push(`layer = $${values.push(filter.layer)}`);
  if (filter.states) where.push(`state = ANY($${values.push(filter.states)})`);
  return { sql: where.length ? `WHERE ${where.join(" AND ")}` : "", values };
}

/** Images, bakes and channels on the tables of migration 003-images.sql. */
export function createPostgresImageRepo(db: pg.Pool): ImageRepo {
  const first = async <T>(sql: string, values: unknown[]): Promise<T | null> => {
    const row = (await db.query(sql, values)).rows[0] as Row | undefined;
    return row ? withGroup<T>(row) : null;
  };
  const update = async (table: string, id: string, patch: Row, allowed: Set<string>) => {
    const { sql, values } = setClause(pick(patch, allowed), GROUP_COLUMN);
    if (sql)
      await db.query(`UPDATE ${table} SET ${sql} WHERE id = $${values.length + 1}`, [
        ...values,
        id,
      ]);
  };
  return {
    async insert(image) {
      const { sql, values } = insertSql("images", image as unknown as Row, GROUP_COLUMN);
      await db.query(sql, values);
    },
    get: (id) => first<ImageRecord>("SELECT * FROM images WHERE id = $1", [id]),
    async list(filter = {}) {
      const { sql, values } = whereOf(filter);
      return (
        await db.query(`SELECT * FROM images ${sql} ORDER BY created_at DESC, seq DESC`, values)
      ).rows.map((r) => withGroup<ImageRecord>(r));
    },
    findActive: (key) =>
      first<ImageRecord>(
        "SELECT * FROM images WHERE bake_key = $1 AND state = 'active' ORDER BY created_at DESC, seq DESC LIMIT 1",
        [key],
      ),
    update: (id, patch) => update("images", id, patch as Row, IMAGE_FIELDS),
    async delete(id) {
      await db.query("DELETE FROM images WHERE id = $1", [id]);
    },

    async insertBake(bake) {
      const { sql, values } = insertSql("image_bakes", bake as unknown as Row, GROUP_COLUMN);
      await db.query(sql, values);
    },
    getBake: (id) => first<BakeRecord>("SELECT * FROM image_bakes WHERE id = $1", [id]),
    async listBakes(filter = {}) {
      const { sql, values } = whereOf(filter);
      const limit = `$${values.push(filter.limit ?? 50)}`;
      return (
        await db.query(
          `SELECT * FROM image_bakes ${sql} ORDER BY requested_at DESC, seq DESC LIMIT ${limit}`,
          values,
        )
      ).rows.map((r) => withGroup<BakeRecord>(r));
    },
    updateBake: (id, patch) => update("image_bakes", id, patch as Row, BAKE_FIELDS),

    channel: (name) => first<ChannelRecord>("SELECT * FROM image_channels WHERE name = $1", [name]),
    channels: async () =>
      (await db.query("SELECT * FROM image_channels ORDER BY name")).rows as ChannelRecord[],
    async setChannel(name, image, at) {
      await db.query(
        `INSERT INTO image_channels (name, image, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET image = excluded.image, updated_at = excluded.updated_at`,
        [name, image, at],
      );
    },
    async deleteChannel(name) {
      await db.query("DELETE FROM image_channels WHERE name = $1", [name]);
    },
  };
}
