/** What every PostgreSQL repository works with: the pool of the process, the keyring and the clock. */
import type pg from 'pg';
import type { PgChangeFeed } from '../postgres-changes';
import type { Keyring } from '../crypto';

/** The pool, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;

export interface PgContext {
  readonly pool: pg.Pool;
  readonly keyring: Keyring;
  /** The clock that stamps records. */
  readonly now: () => Date;
  /** Writes here and, through LISTEN, in other instances: the change stamp's source. */
  readonly changes: PgChangeFeed;
}

/** Runs `work` on one client inside BEGIN … COMMIT; any error rolls it back. */
export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Runs a statement written with `@name` placeholders, bound from `values` by name: the
 * repositories bind the same column values (records.ts) the SQLite store binds by name.
 */
export function named(q: Queryable, sql: string, values: object): Promise<pg.QueryResult> {
  const byName = values as Record<string, unknown>;
  const order: string[] = [];
  const text = sql.replace(/@([A-Za-z]\w*)/g, (_, name: string) => {
    if (!(name in byName)) throw new Error(`the statement's parameter @${name} has no value`);
    const i = order.includes(name) ? order.indexOf(name) : order.push(name) - 1;
    return `$${i + 1}`;
  });
  return q.query(
    text,
    order.map((name) => byName[name]),
  );
}

/** Whether a write changed any row. */
export function changed(result: pg.QueryResult): boolean {
  return (result.rowCount ?? 0) > 0;
}
