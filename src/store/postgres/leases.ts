/** Named leases on PostgreSQL: work several instances share runs in one of them at a time. */
import { leaseParams } from '../records';
import type { LeaseRecords } from '../types';
import { changed, named, type PgContext } from './db';

export class PgLeases implements LeaseRecords {
  constructor(private readonly c: PgContext) {}

  async tryLease(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    // One statement: insert, take over an expired lease, or renew one's own; a row comes back only then.
    const res = await named(
      this.c.pool,
      `INSERT INTO leases (name, owner, until_ms) VALUES (@name, @owner, @until)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
       WHERE leases.owner = excluded.owner OR leases.until_ms <= @now
       RETURNING owner`,
      leaseParams(name, owner, ttlMs, now),
    );
    return changed(res);
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.c.pool.query('DELETE FROM leases WHERE name = $1 AND owner = $2', [name, owner]);
  }
}
