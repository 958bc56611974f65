import type { Database } from "better-sqlite3";
import type { BakeRecord, ChannelRecord, ImageRecord, ImageRepo } from "../image-repo.js";

type Row = Record<string, unknown>;

const IMAGE_COLUMNS = [
  "id",
  "grp",
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
];
const BAKE_COLUMNS = [
  "id",
  "grp",
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
];

function toImage(row: unknown): ImageRecord | null {
  if (!row) return null;
  const { grp, ...rest } = row as Row;
  return { ...(rest as Omit<ImageRecord, "group">), group: grp as string };
}

function toBake(row: unknown): BakeRecord | null {
  if (!row) return null;
  const { grp, ...rest } = row as Row;
  return { ...(rest as Omit<BakeRecord, "group">), group: grp as string };
}

/** `group` is `grp` in SQL (GROUP is a keyword); only the given columns may be set. */
function assignments(patch: Row, allowed: string[]): { sql: string; values: Row } {
  const values: Row = {};
  const parts: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const column = key === "group" ? "grp" : key;
    if (value === undefined || !allowed.includes(column) || column === "id") continue;
    parts.push(`${column} = @${column}`);
    values[column] = value;
  }
  return { sql: parts.join(", "), values };
}

/** Images, bakes and channels in the control plane's SQLite database (tables of 003-images.sql). */
export function createSqliteImageRepo(db: Database): ImageRepo {
  const insertImage = db.prepare(
    `INSERT INTO images (${IMAGE_COLUMNS.join(", ")}) VALUES (${IMAGE_COLUMNS.map((c) => "@" + c).join(", ")})`,
  );
  const insertBake = db.prepare(
    `INSERT INTO image_bakes (${BAKE_COLUMNS.join(", ")}) VALUES (${BAKE_COLUMNS.map((c) => "@" + c).join(", ")})`,
  );
  const getImage = db.prepare("SELECT * FROM images WHERE id = ?");
  const findActive = db.prepare(
    "SELECT * FROM images WHERE bake_key = ? AND state = 'active' ORDER BY created_at DESC, rowid DESC LIMIT 1",
  );
  const getBake = db.prepare("SELECT * FROM image_bakes WHERE id = ?");
  const getChannel = db.prepare("SELECT * FROM image_channels WHERE name = ?");
  const upsertChannel = db.prepare(
    `INSERT INTO image_channels (name, image, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET image = excluded.image, updated_at = excluded.updated_at`,
  );

  return {
    insert: async (image) => {
      const { group, ...rest } = image;
      insertImage.run({ ...rest, grp: group });
    },
    get: async (id) => toImage(getImage.get(id)),
    list: async (filter = {}) => {
      const where: string[] = [];
      const params: Row = {};
      if (filter.group) {
        where.push("grp = @group");
        params.group = filter.group;
      }
      if (filter.layer) {
        where.push("layer = @layer");
        params.layer = filter.layer;
      }
      if (filter.states) {
        where.push(`state IN (${filter.states.map((_, i) => `@s${i}`).join(", ") || "NULL"})`);
        filter.states.forEach((s, i) => (params[`s${i}`] = s));
      }
      return db
        .prepare(
          `SELECT * FROM images ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at DESC, rowid DESC`,
        )
        .all(params)
        .map((row) => toImage(row)!);
    },
    findActive: async (key) => toImage(findActive.get(key)),
    update: async (id, patch) => {
      const { sql, values } = assignments(patch as Row, IMAGE_COLUMNS);
      if (sql) db.prepare(`UPDATE images SET ${sql} WHERE id = @id`).run({ ...values, id });
    },
    delete: async (id) => {
      db.prepare("DELETE FROM images WHERE id = ?").run(id);
    },

    insertBake: async (bake) => {
      const { group, ...rest } = bake;
      insertBake.run({ ...rest, grp: group });
    },
    getBake: async (id) => toBake(getBake.get(id)),
    listBakes: async (filter = {}) => {
      const where: string[] = [];
      const params: Row = { limit: filter.limit ?? 50 };
      if (filter.group) {
        where.push("grp = @group");
        params.group = filter.group;
      }
      if (filter.states) {
        where.push(`state IN (${filter.states.map((_, i) => `@s${i}`).join(", ") || "NULL"})`);
        filter.states.forEach((s, i) => (params[`s${i}`] = s));
      }
      return db
        .prepare(
          `SELECT * FROM image_bakes ${where.length ? "WHERE " + where.join(" AND ") : ""}
           ORDER BY requested_at DESC, rowid DESC LIMIT @limit`,
        )
        .all(params)
        .map((row) => toBake(row)!);
    },
    updateBake: async (id, patch) => {
      const { sql, values } = assignments(patch as Row, BAKE_COLUMNS);
      if (sql) db.prepare(`UPDATE image_bakes SET ${sql} WHERE id = @id`).run({ ...values, id });
    },

    channel: async (name) => (getChannel.get(name) as ChannelRecord | undefined) ?? null,
    channels: async () =>
      db.prepare("SELECT * FROM image_channels ORDER BY name").all() as ChannelRecord[],
    setChannel: async (name, image, at) => {
      upsertChannel.run(name, image, at);
    },
    deleteChannel: async (name) => {
      db.prepare("DELETE FROM image_channels WHERE name = ?").run(name);
    },
  };
}
