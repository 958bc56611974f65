import pg from "pg";

/** Anything that runs a query: the pool or one client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

const INT8 = 20;

/**
 * BIGINT columns (epoch milliseconds, counts) as JS numbers: every value strata
 * stores is below 2^53. pg's default is a string, to be safe for larger ones.
 */
export const NUMERIC_TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 && format !== "binary"
      ? (text: string) => Number(text)
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

/** Runs `fn` in one transaction on one client; rolls back when it throws. */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

type Row = Record<string, unknown>;

/** `col = $n, ...` for the defined keys of a patch, renaming fields to columns; values follow `offset`. */
export function setClause(
  patch: Row,
  columns: Record<string, string> = {},
  offset = 0,
): { sql: string; values: unknown[] } {
  const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
  return {
    sql: keys.map((k, i) => `${columns[k] ?? k} = $${offset + i + 1}`).join(", "),
    values: keys.map((k) => jsonValue(patch[k])),
  };
}

/** `INSERT INTO table (cols) VALUES ($1, ...)` for every key of `row`. */
export function insertSql(
  table: string,
  row: Row,
  columns: Record<string, string> = {},
): { sql: string; values: unknown[] } {
  const keys = Object.keys(row);
  return {
    sql: `INSERT INTO ${table} (${keys.map((k) => columns[k] ?? k).join(", ")}) VALUES (${keys
      .map((_, i) => `$${i + 1}`)
      .join(", ")})`,
    values: keys.map((k) => jsonValue(row[k])),
  };
}

/** Arrays and objects go to JSONB columns as JSON text; pg would send arrays as SQL arrays. */
function jsonValue(v: unknown): unknown {
  return Array.isArray(v) || (typeof v === "object" && v !== null) ? JSON.stringify(v) : v;
}

/** A row with `grp` renamed to `group` and `seq` (an ordering column) dropped. */
export function withGroup<T>(row: Row): T {
  const { grp, seq: _seq, ...rest } = row;
  return (grp === undefined ? rest : { ...rest, group: grp }) as T;
}
