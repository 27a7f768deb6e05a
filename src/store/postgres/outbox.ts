/** The outbox on PostgreSQL: items claimed under a lease, ended only by their lease holder when one is named. */
import { DEFAULT_PAGE, clampLimit, claimValues, notFoundOutbox, outboxItemValues, outboxMarkValues } from '../records';
import { bySeq, outboxFromRow, type Row } from '../shared/rows';
import type { NewOutboxItem, OutboxRecord, OutboxRecords, OutboxStatus } from '../types';
import { changed, named, type PgContext } from './db';

const END_LEASE = 'lease_owner = NULL, lease_until_ms = NULL';
/** A pending item, and with an owner named only while that owner holds its lease. */
const PENDING_OF_OWNER = "id = @id AND status = 'pending' AND (@owner::text IS NULL OR lease_owner = @owner)";

export class PgOutbox implements OutboxRecords {
  constructor(private readonly c: PgContext) {}

  async enqueue(items: NewOutboxItem[]): Promise<number> {
    const rows = outboxItemValues(items, this.c.now());
    if (rows.length === 0) return 0;
    const column = (k: keyof (typeof rows)[number]) => rows.map((r) => r[k]);
    // One statement, rows in the given order (their seq is the delivery order); a key seen twice
    // in the batch or already present is skipped.
    const res = await this.c.pool.query(
      `INSERT INTO outbox (id, tenant_id, kind, idempotency_key, conversation_id, payload, status, attempts, next_attempt_ms, created_at)
       SELECT id, tenant_id, kind, idempotency_key, conversation_id, payload, 'pending', 0, $7, $8
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
         AS i(id, tenant_id, kind, idempotency_key, conversation_id, payload, ord)
       ORDER BY ord
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`,
      [
        column('id'),
        column('tenantId'),
        column('kind'),
        column('idempotencyKey'),
        column('conversationId'),
        column('payload'),
        rows[0]!.nextAttemptMs,
        rows[0]!.createdAt,
      ],
    );
    return res.rowCount ?? 0;
  }

  async dueOutbox(now: Date, limit: number): Promise<OutboxRecord[]> {
    const { rows } = await this.c.pool.query("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $1 ORDER BY seq LIMIT $2", [
      now.getTime(),
      clampLimit(limit, DEFAULT_PAGE),
    ]);
    return rows.map(outboxFromRow);
  }

  async claimOutbox(now: Date, limit: number, owner: string, leaseMs: number): Promise<OutboxRecord[]> {
    // SKIP LOCKED: instances claiming at the same moment take different items instead of waiting.
    const { rows } = await named(
      this.c.pool,
      `WITH due AS (
         SELECT seq FROM outbox WHERE status = 'pending' AND next_attempt_ms <= @now AND (lease_until_ms IS NULL OR lease_until_ms <= @now OR lease_owner = @owner)
         ORDER BY seq LIMIT @limit FOR UPDATE SKIP LOCKED)
       UPDATE outbox SET lease_owner = @owner, lease_until_ms = @until FROM due WHERE outbox.seq = due.seq RETURNING outbox.*`,
      claimValues(now, limit, owner, leaseMs),
    );
    return bySeq(rows as Row[]).map(outboxFromRow);
  }

  async markSent(id: string, at: Date, owner?: string): Promise<boolean> {
    return this.#end(
      `UPDATE outbox SET status = 'sent', sent_at = @value, attempts = attempts + 1, last_error = NULL, ${END_LEASE} WHERE ${PENDING_OF_OWNER}`,
      outboxMarkValues(id, owner, at.toISOString(), null),
    );
  }

  async markRetry(id: string, nextAttemptAt: Date, error: string, owner?: string): Promise<boolean> {
    return this.#end(
      `UPDATE outbox SET next_attempt_ms = @value, last_error = @error, attempts = attempts + 1, ${END_LEASE} WHERE ${PENDING_OF_OWNER}`,
      outboxMarkValues(id, owner, nextAttemptAt.getTime(), error),
    );
  }

  async markFailed(id: string, error: string, owner?: string): Promise<boolean> {
    return this.#end(
      `UPDATE outbox SET status = 'failed', last_error = @error, attempts = attempts + 1, ${END_LEASE} WHERE ${PENDING_OF_OWNER}`,
      outboxMarkValues(id, owner, null, error),
    );
  }

  /** Only a pending item moves, and with an owner only while that owner holds it; otherwise false. */
  async #end(sql: string, values: ReturnType<typeof outboxMarkValues>): Promise<boolean> {
    if (changed(await named(this.c.pool, sql, values))) return true;
    if (!changed(await this.c.pool.query('SELECT 1 FROM outbox WHERE id = $1', [values.id]))) throw notFoundOutbox(values.id);
    return false;
  }

  async listOutbox(tenantId: string, status?: OutboxStatus): Promise<OutboxRecord[]> {
    const { rows } = await this.c.pool.query('SELECT * FROM outbox WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY seq', [
      tenantId,
      status ?? null,
    ]);
    return rows.map(outboxFromRow);
  }
}
