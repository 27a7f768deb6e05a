/** Health-check runs (one running per tenant), their items and connection state history, on PostgreSQL. */
import type { ConnectionKind, ConnectionState } from '../../domain/connection';
import {
  DEFAULT_PAGE,
  checkFinishStatus,
  checkItemValues,
  checkedPerRun,
  clampLimit,
  connectionCheckValues,
  inLockOrder,
  optionalKind,
  removalValues,
  startedRun,
  type ConnectionParams,
} from '../records';
import { checkItemFromRow, checkRunFromRow, historyFromRow, pendingWorkFromRow, type Row } from '../shared/rows';
import type {
  CheckItemKey,
  CheckItemRecord,
  CheckItemResult,
  CheckRecords,
  CheckRunRecord,
  ConnectionChangedBy,
  ConnectionHistoryRecord,
  ConnectionRecord,
  PendingCheckWork,
} from '../types';
import { upsertConnections } from './connections';
import { changed, transaction, type PgContext, type Queryable } from './db';

type ItemValues = ReturnType<typeof checkItemValues>;
/** A state change as the history keeps it: from a run's item, or from a user's own Test (no run). */
type HistoryEntry = Pick<ItemValues, 'tenantId' | 'upn' | 'kind' | 'from' | 'to' | 'code' | 'at'> & { runId: string | null; changedBy?: ConnectionChangedBy };

/**
 * Writes what the checks of items guarded by `unchangedSince` found, to the connections not changed
 * since; returns the items with those whose connection was changed or removed meanwhile turned into
 * "no change" (their user's action stands).
 */
async function writeCheckedConnections(q: Queryable, items: ItemValues[]): Promise<ItemValues[]> {
  const guarded = items.filter((v) => v.connection && v.unchangedSince !== null);
  if (guarded.length === 0) return items;
  const applied = await writeChecked(
    q,
    guarded.map((v) => ({ ...v.connection!, unchangedSince: v.unchangedSince!, from: v.from })),
  );
  return items.map((v) => (v.connection && v.unchangedSince !== null && !applied.has(connectionKey(v)) ? { ...v, to: v.from, code: null } : v));
}

/**
 * A check's fields, written to each connection only while it is as it was read (same updatedAt and
 * state); returns the keys of those written.
 */
async function writeChecked(q: Queryable, rows: Array<ConnectionParams & { unchangedSince: string; from: ConnectionState }>): Promise<Set<string>> {
  const { rows: written } = await q.query(
    `UPDATE connections c SET state = i.state, granted_scopes = i.granted_scopes, feature_results = i.feature_results, error = i.error, last_checked_at = i.last_checked_at, updated_at = i.updated_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
       AS i(tenant_id, upn, kind, state, granted_scopes, feature_results, error, last_checked_at, updated_at, unchanged_since, from_state)
     WHERE c.tenant_id = i.tenant_id AND c.upn = i.upn AND c.kind = i.kind AND c.updated_at = i.unchanged_since AND c.state = i.from_state
     RETURNING c.tenant_id, c.upn, c.kind`,
    columnsOf(rows, ['tenantId', 'upn', 'kind', 'state', 'grantedScopes', 'featureResults', 'error', 'lastCheckedAt', 'updatedAt', 'unchangedSince', 'from']),
  );
  return new Set((written as Row[]).map((r) => connectionKey({ tenantId: String(r.tenant_id), upn: String(r.upn), kind: String(r.kind) })));
}

function connectionKey(v: { tenantId: string; upn: string; kind: string }): string {
  return `${v.tenantId}\u0000${v.upn}\u0000${v.kind}`;
}

function itemKey(v: { tenantId: string; runId: string; upn: string; kind: string }): string {
  return `${v.tenantId}\u0000${v.runId}\u0000${v.upn}\u0000${v.kind}`;
}

/** One text array per column, as `unnest` reads them. */
function columnsOf<V, K extends keyof V>(values: readonly V[], keys: readonly K[]): Array<Array<string | null>> {
  return keys.map((k) => values.map((v) => (v[k] as string | null | undefined) ?? null));
}

/** Appends state changes to the history, in the order given, in one statement. */
async function insertHistory(q: Queryable, entries: readonly HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await q.query(
    `INSERT INTO connection_history (tenant_id, upn, kind, from_state, to_state, code, at, run_id, changed_by)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`,
    columnsOf(entries, ['tenantId', 'upn', 'kind', 'from', 'to', 'code', 'at', 'runId', 'changedBy']),
  );
}

export class PgChecks implements CheckRecords {
  constructor(private readonly c: PgContext) {}

  async startCheckRun(
    run: CheckRunRecord,
    items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>>,
  ): Promise<{ started: true; run: CheckRunRecord } | { started: false; run: CheckRunRecord }> {
    const start = startedRun(run, items);
    return transaction(this.c.pool, async (c) => {
      for (;;) {
        const running = (await c.query("SELECT * FROM check_runs WHERE tenant_id = $1 AND status = 'running'", [run.tenantId])).rows[0] as Row | undefined;
        if (running) return { started: false as const, run: checkRunFromRow(running) };
        // A start racing this one (another instance) meets the partial unique index: then nothing
        // is written here and the next round returns the run that won.
        const inserted = await c.query(
          `INSERT INTO check_runs (id, tenant_id, status, started_by, started_at, started_ms, total, checked)
           VALUES ($1, $2, 'running', $3, $4, $5, $6, 0) ON CONFLICT (tenant_id) WHERE status = 'running' DO NOTHING`,
          [run.id, run.tenantId, run.startedBy, run.startedAt, start.startedMs, start.items.length],
        );
        if (!changed(inserted)) continue;
        if (start.items.length) {
          await c.query('INSERT INTO check_items (tenant_id, run_id, upn, kind) SELECT $1, $2, unnest($3::text[]), unnest($4::text[])', [
            run.tenantId,
            run.id,
            start.items.map((i) => i.upn),
            start.items.map((i) => i.kind),
          ]);
        }
        return { started: true as const, run: start.started };
      }
    });
  }

  async getCheckRun(tenantId: string, id: string): Promise<CheckRunRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT * FROM check_runs WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] && checkRunFromRow(rows[0] as Row);
  }

  async latestCheckRun(tenantId: string): Promise<CheckRunRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT * FROM check_runs WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1', [tenantId]);
    return rows[0] && checkRunFromRow(rows[0] as Row);
  }

  async listRunningCheckRuns(): Promise<CheckRunRecord[]> {
    return (await this.c.pool.query("SELECT * FROM check_runs WHERE status = 'running' ORDER BY started_ms, seq")).rows.map(checkRunFromRow);
  }

  async pendingCheckItems(tenantId: string, runId: string, limit: number): Promise<CheckItemRecord[]> {
    const { rows } = await this.c.pool.query('SELECT * FROM check_items WHERE tenant_id = $1 AND run_id = $2 AND NOT done ORDER BY upn, kind LIMIT $3', [
      tenantId,
      runId,
      clampLimit(limit, DEFAULT_PAGE),
    ]);
    return rows.map(checkItemFromRow);
  }

  async pendingCheckWork(tenantId: string, runId: string, limit: number, after?: CheckItemKey): Promise<PendingCheckWork[]> {
    // ('', '') sorts before every item: upn and kind are never empty.
    const { rows } = await this.c.pool.query(
      `SELECT i.upn AS item_upn, i.kind AS item_kind, c.* FROM check_items i
       LEFT JOIN connections c ON c.tenant_id = i.tenant_id AND c.upn = i.upn AND c.kind = i.kind
       WHERE i.tenant_id = $1 AND i.run_id = $2 AND NOT i.done AND (i.upn, i.kind) > ($3, $4) ORDER BY i.upn, i.kind LIMIT $5`,
      [tenantId, runId, after?.upn ?? '', after?.kind ?? '', clampLimit(limit, DEFAULT_PAGE)],
    );
    return (rows as Row[]).map(pendingWorkFromRow);
  }

  async completeCheckItem(result: CheckItemResult): Promise<boolean> {
    return (await this.completeCheckItems([result]))[0]!;
  }

  async completeCheckItems(results: CheckItemResult[]): Promise<boolean[]> {
    // Every result is checked before anything is written.
    const values = results.map(checkItemValues);
    if (values.length === 0) return [];
    // A set of statements per call, not per item: a health check writes thousands of items a second.
    // An item named twice in one call is written by its first result only.
    const firstOf = new Map<string, number>();
    for (const i of inLockOrder(values)) {
      const key = itemKey(values[i]!);
      if (!firstOf.has(key)) firstOf.set(key, i);
    }
    const candidates = [...firstOf.values()].map((i) => values[i]!);
    return transaction(this.c.pool, async (tx) => {
      // The row locks, taken in key order, make a second completion wait, then find the item done.
      const { rows } = await tx.query(
        `SELECT c.tenant_id, c.run_id, c.upn, c.kind FROM check_items c
         JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS i(tenant_id, run_id, upn, kind)
           ON c.run_id = i.run_id AND c.upn = i.upn AND c.kind = i.kind AND c.tenant_id = i.tenant_id
         WHERE NOT c.done ORDER BY c.run_id, c.upn, c.kind FOR UPDATE OF c`,
        columnsOf(candidates, ['tenantId', 'runId', 'upn', 'kind']),
      );
      const pending = new Set(
        (rows as Row[]).map((r) => itemKey({ tenantId: String(r.tenant_id), runId: String(r.run_id), upn: String(r.upn), kind: String(r.kind) })),
      );
      const done = values.map((v, i) => pending.has(itemKey(v)) && firstOf.get(itemKey(v)) === i);
      const marked = await writeCheckedConnections(
        tx,
        candidates.filter((v) => pending.has(itemKey(v))),
      );
      if (marked.length === 0) return done;
      await tx.query(
        `UPDATE check_items c SET done = true, from_state = i.from_state, to_state = i.to_state, code = i.code
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS i(tenant_id, run_id, upn, kind, from_state, to_state, code)
         WHERE c.run_id = i.run_id AND c.upn = i.upn AND c.kind = i.kind AND c.tenant_id = i.tenant_id`,
        columnsOf(marked, ['tenantId', 'runId', 'upn', 'kind', 'from', 'to', 'code']),
      );
      const connections = marked.flatMap((v) => (v.connection && v.unchangedSince === null ? [v.connection] : []));
      if (connections.length) await upsertConnections(tx, connections);
      await insertHistory(
        tx,
        marked.filter((v) => v.from !== v.to),
      );
      for (const r of checkedPerRun(values, done)) {
        await tx.query('UPDATE check_runs SET checked = checked + $1 WHERE tenant_id = $2 AND id = $3', [r.checked, r.tenantId, r.runId]);
      }
      return done;
    });
  }

  async recordConnectionCheck(connection: ConnectionRecord, from: ConnectionState, unchangedSince?: string): Promise<boolean> {
    const v = connectionCheckValues(connection, from, unchangedSince);
    return transaction(this.c.pool, async (tx) => {
      if (v.unchangedSince === null) await upsertConnections(tx, [v.connection]);
      else if ((await writeChecked(tx, [{ ...v.connection, unchangedSince: v.unchangedSince, from: v.from }])).size === 0) return false;
      if (v.from !== v.to) await insertHistory(tx, [v]);
      return true;
    });
  }

  async removeConnectionWithHistory(tenantId: string, upn: string, kind: ConnectionKind, at: string, by: ConnectionChangedBy): Promise<boolean> {
    const v = removalValues(tenantId, upn, kind, at, by);
    return transaction(this.c.pool, async (tx) => {
      const { rows } = await tx.query('DELETE FROM connections WHERE tenant_id = $1 AND upn = $2 AND kind = $3 RETURNING state', [v.tenantId, v.upn, v.kind]);
      const removed = rows[0] as { state: ConnectionState } | undefined;
      if (!removed) return false;
      if (removed.state !== 'disconnected') await insertHistory(tx, [{ ...v, from: removed.state, to: 'disconnected', code: null, runId: null }]);
      return true;
    });
  }

  async checkRunOutcome(tenantId: string, runId: string): Promise<{ byState: Partial<Record<ConnectionState, number>>; changes: CheckItemRecord[] }> {
    const byState: Partial<Record<ConnectionState, number>> = {};
    const counts = await this.c.pool.query(
      'SELECT to_state, count(*)::int AS n FROM check_items WHERE tenant_id = $1 AND run_id = $2 AND done GROUP BY to_state',
      [tenantId, runId],
    );
    for (const r of counts.rows as Array<{ to_state: ConnectionState; n: number }>) byState[r.to_state] = r.n;
    const { rows } = await this.c.pool.query(
      'SELECT * FROM check_items WHERE tenant_id = $1 AND run_id = $2 AND done AND from_state <> to_state ORDER BY upn, kind',
      [tenantId, runId],
    );
    return { byState, changes: rows.map(checkItemFromRow) };
  }

  async finishCheckRun(tenantId: string, id: string, status: 'done' | 'failed', finishedAt: string): Promise<void> {
    checkFinishStatus(status, finishedAt);
    await this.c.pool.query("UPDATE check_runs SET status = $1, finished_at = $2 WHERE tenant_id = $3 AND id = $4 AND status = 'running'", [
      status,
      finishedAt,
      tenantId,
      id,
    ]);
  }

  async connectionHistory(tenantId: string, upn: string, options: { limit?: number; kind?: ConnectionKind } = {}): Promise<ConnectionHistoryRecord[]> {
    const kind = optionalKind(options.kind);
    const { rows } = await this.c.pool.query(
      'SELECT * FROM connection_history WHERE tenant_id = $1 AND upn = $2 AND ($3::text IS NULL OR kind = $3) ORDER BY seq DESC LIMIT $4',
      [tenantId, upn.toLowerCase(), kind ?? null, clampLimit(options.limit, 100)],
    );
    return rows.map(historyFromRow);
  }
}
