/** Named leases on SQLite: work several processes share runs in one of them at a time. */
import { leaseParams } from '../records';
import type { LeaseRecords } from '../types';
import type { SqliteContext, Db } from './db';

export class SqliteLeases implements LeaseRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async tryLease(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    return this.#q.take.get(leaseParams(name, owner, ttlMs, now)) !== undefined;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#q.release.run(name, owner);
  }
}

function statements(db: Db) {
  return {
    // One statement: insert, take over an expired lease, or renew one's own; a row comes back only then.
    take: db.prepare(`INSERT INTO leases (name, owner, until_ms) VALUES (@name, @owner, @until)
        ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
        WHERE leases.owner = excluded.owner OR leases.until_ms <= @now
        RETURNING owner`),
    release: db.prepare('DELETE FROM leases WHERE name = ? AND owner = ?'),
  };
}
