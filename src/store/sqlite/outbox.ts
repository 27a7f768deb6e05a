/** The outbox on SQLite: items claimed under a lease, ended only by their lease holder when one is named. */
import type Database from 'better-sqlite3';
import { DEFAULT_PAGE, clampLimit, claimValues, notFoundOutbox, outboxItemValues, outboxMarkValues } from '../records';
import { bySeq, outboxFromRow, type Row } from '../shared/rows';
import type { NewOutboxItem, OutboxRecord, OutboxRecords, OutboxStatus } from '../types';
import { immediate, type SqliteContext, type Db } from './db';

const END_LEASE = 'lease_owner = NULL, lease_until_ms = NULL';
/** A pending item, and with an owner named only while that owner holds its lease. */
const PENDING_OF_OWNER = "id = @id AND status = 'pending' AND (@owner IS NULL OR lease_owner = @owner)";

export class SqliteOutbox implements OutboxRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async enqueue(items: NewOutboxItem[]): Promise<number> {
    const now = this.c.now();
    const rows = outboxItemValues(items, now);
    return immediate(this.c.db, () => rows.reduce((added, values) => added + this.#q.insert.run(values).changes, 0));
  }

  async dueOutbox(now: Date, limit: number): Promise<OutboxRecord[]> {
    return (this.#q.due.all(now.getTime(), clampLimit(limit, DEFAULT_PAGE)) as Row[]).map(outboxFromRow);
  }

  async claimOutbox(now: Date, limit: number, owner: string, leaseMs: number): Promise<OutboxRecord[]> {
    const params = claimValues(now, limit, owner, leaseMs);
    // One UPDATE in a write transaction: another process's claim waits for it, then sees the lease.
    return bySeq(immediate(this.c.db, () => this.#q.claim.all(params) as Row[])).map(outboxFromRow);
  }

  async markSent(id: string, at: Date, owner?: string): Promise<boolean> {
    return this.#end(this.#q.sent, outboxMarkValues(id, owner, at.toISOString(), null));
  }

  async markRetry(id: string, nextAttemptAt: Date, error: string, owner?: string): Promise<boolean> {
    return this.#end(this.#q.retry, outboxMarkValues(id, owner, nextAttemptAt.getTime(), error));
  }

  async markFailed(id: string, error: string, owner?: string): Promise<boolean> {
    return this.#end(this.#q.failed, outboxMarkValues(id, owner, null, error));
  }

  /** Only a pending item moves, and with an owner only while that owner holds it; otherwise false. */
  #end(update: Database.Statement, values: ReturnType<typeof outboxMarkValues>): boolean {
    return immediate(this.c.db, () => {
      if (update.run(values).changes > 0) return true;
      if (this.#q.exists.get(values.id) === undefined) throw notFoundOutbox(values.id);
      return false;
    });
  }

  async listOutbox(tenantId: string, status?: OutboxStatus): Promise<OutboxRecord[]> {
    return (this.#q.list.all({ tenantId, status: status ?? null }) as Row[]).map(outboxFromRow);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p(`INSERT INTO outbox (id, tenant_id, kind, idempotency_key, conversation_id, payload, status, attempts, next_attempt_ms, created_at)
        VALUES (@id, @tenantId, @kind, @idempotencyKey, @conversationId, @payload, 'pending', 0, @nextAttemptMs, @createdAt)
        ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`),
    due: p("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ? ORDER BY seq LIMIT ?"),
    claim: p(`UPDATE outbox SET lease_owner = @owner, lease_until_ms = @until
        WHERE seq IN (SELECT seq FROM outbox WHERE status = 'pending' AND next_attempt_ms <= @now AND (lease_until_ms IS NULL OR lease_until_ms <= @now OR lease_owner = @owner)
          ORDER BY seq LIMIT @limit)
        RETURNING *`),
    sent: p(`UPDATE outbox SET status = 'sent', sent_at = @value, attempts = attempts + 1, last_error = NULL, ${END_LEASE} WHERE ${PENDING_OF_OWNER}`),
    retry: p(`UPDATE outbox SET next_attempt_ms = @value, last_error = @error, attempts = attempts + 1, ${END_LEASE} WHERE ${PENDING_OF_OWNER}`),
    failed: p(`UPDATE outbox SET status = 'failed', last_error = @error, attempts = attempts + 1, ${END_LEASE} WHERE ${PENDING_OF_OWNER}`),
    exists: p('SELECT 1 FROM outbox WHERE id = ?'),
    list: p('SELECT * FROM outbox WHERE tenant_id = @tenantId AND (@status IS NULL OR status = @status) ORDER BY seq'),
  };
}
