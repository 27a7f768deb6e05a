/** Health-check runs (one running per tenant), their items and connection state history, on SQLite. */
import type { ConnectionKind, ConnectionState } from '../../domain/connection';
import {
  DEFAULT_PAGE,
  checkFinishStatus,
  checkItemValues,
  checkedPerRun,
  clampLimit,
  connectionCheckValues,
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
import { CONNECTION_UPSERT } from './connections';
import { immediate, type SqliteContext, type Db } from './db';

export class SqliteChecks implements CheckRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async startCheckRun(
    run: CheckRunRecord,
    items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>>,
  ): Promise<{ started: true; run: CheckRunRecord } | { started: false; run: CheckRunRecord }> {
    const start = startedRun(run, items);
    return immediate(this.c.db, () => {
      const running = this.#q.running.get(run.tenantId) as Row | undefined;
      if (running) return { started: false as const, run: checkRunFromRow(running) };
      const seq = (this.#q.nextSeq.get(run.tenantId) as number) ?? 1;
      this.#q.insert.run(run.id, run.tenantId, run.startedBy, run.startedAt, start.startedMs, start.items.length, seq);
      for (const i of start.items) this.#q.itemInsert.run(run.tenantId, run.id, i.upn, i.kind);
      return { started: true as const, run: start.started };
    });
  }

  async getCheckRun(tenantId: string, id: string): Promise<CheckRunRecord | undefined> {
    const row = this.#q.get.get(tenantId, id) as Row | undefined;
    return row && checkRunFromRow(row);
  }

  async latestCheckRun(tenantId: string): Promise<CheckRunRecord | undefined> {
    const row = this.#q.latest.get(tenantId) as Row | undefined;
    return row && checkRunFromRow(row);
  }

  async listRunningCheckRuns(): Promise<CheckRunRecord[]> {
    return (this.#q.allRunning.all() as Row[]).map(checkRunFromRow);
  }

  async pendingCheckItems(tenantId: string, runId: string, limit: number): Promise<CheckItemRecord[]> {
    return (this.#q.itemPending.all(tenantId, runId, clampLimit(limit, DEFAULT_PAGE)) as Row[]).map(checkItemFromRow);
  }

  async pendingCheckWork(tenantId: string, runId: string, limit: number, after?: CheckItemKey): Promise<PendingCheckWork[]> {
    // ('', '') sorts before every item: upn and kind are never empty.
    const rows = this.#q.workPending.all(tenantId, runId, after?.upn ?? '', after?.kind ?? '', clampLimit(limit, DEFAULT_PAGE)) as Row[];
    return rows.map(pendingWorkFromRow);
  }

  async completeCheckItem(result: CheckItemResult): Promise<boolean> {
    return (await this.completeCheckItems([result]))[0]!;
  }

  async completeCheckItems(results: CheckItemResult[]): Promise<boolean[]> {
    // Every result is checked before anything is written.
    const values = results.map(checkItemValues);
    return immediate(this.c.db, () => {
      const done = values.map((v) => {
        if (this.#q.itemDone.run(v).changes === 0) return false;
        if (v.connection && v.unchangedSince !== null) {
          if (!this.#writeChecked(v.connection, v.unchangedSince, v.from)) {
            // Changed or removed by its user meanwhile: what they did stands, and this run saw no change.
            this.#q.itemUnchanged.run(v.tenantId, v.runId, v.upn, v.kind);
            return true;
          }
        } else if (v.connection) this.#q.connectionUpsert.run(v.connection);
        if (v.from !== v.to) this.#q.historyInsert.run(v);
        return true;
      });
      for (const r of checkedPerRun(values, done)) this.#q.checked.run(r.checked, r.tenantId, r.runId);
      return done;
    });
  }

  async recordConnectionCheck(connection: ConnectionRecord, from: ConnectionState, unchangedSince?: string): Promise<boolean> {
    const v = connectionCheckValues(connection, from, unchangedSince);
    return immediate(this.c.db, () => {
      if (v.unchangedSince === null) this.#q.connectionUpsert.run(v.connection);
      else if (!this.#writeChecked(v.connection, v.unchangedSince, v.from)) return false;
      if (v.from !== v.to) this.#q.historyInsert.run(v);
      return true;
    });
  }

  async removeConnectionWithHistory(tenantId: string, upn: string, kind: ConnectionKind, at: string, by: ConnectionChangedBy): Promise<boolean> {
    const v = removalValues(tenantId, upn, kind, at, by);
    return immediate(this.c.db, () => {
      const removed = this.#q.connectionRemove.get(v.tenantId, v.upn, v.kind) as { state: ConnectionState } | undefined;
      if (!removed) return false;
      if (removed.state !== 'disconnected') this.#q.historyRemoval.run({ ...v, from: removed.state });
      return true;
    });
  }

  /** A check's fields, written only while the connection is as it was read (same updatedAt and state). */
  #writeChecked(c: ConnectionParams, unchangedSince: string, from: ConnectionState): boolean {
    const args = [c.state, c.grantedScopes, c.featureResults, c.error, c.lastCheckedAt, c.updatedAt, c.tenantId, c.upn, c.kind, unchangedSince, from];
    return this.#q.connectionChecked.run(args).changes > 0;
  }

  async checkRunOutcome(tenantId: string, runId: string): Promise<{ byState: Partial<Record<ConnectionState, number>>; changes: CheckItemRecord[] }> {
    const byState: Partial<Record<ConnectionState, number>> = {};
    for (const r of this.#q.itemByState.all(tenantId, runId) as Array<{ to_state: ConnectionState; n: number }>) byState[r.to_state] = r.n;
    return { byState, changes: (this.#q.itemChanges.all(tenantId, runId) as Row[]).map(checkItemFromRow) };
  }

  async finishCheckRun(tenantId: string, id: string, status: 'done' | 'failed', finishedAt: string): Promise<void> {
    checkFinishStatus(status, finishedAt);
    this.#q.finish.run(status, finishedAt, tenantId, id);
  }

  async connectionHistory(tenantId: string, upn: string, options: { limit?: number; kind?: ConnectionKind } = {}): Promise<ConnectionHistoryRecord[]> {
    const kind = optionalKind(options.kind);
    const limit = clampLimit(options.limit, 100);
    const rows = kind ? this.#q.historyOfKind.all(tenantId, upn.toLowerCase(), kind, limit) : this.#q.historyList.all(tenantId, upn.toLowerCase(), limit);
    return (rows as Row[]).map(historyFromRow);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    running: p("SELECT * FROM check_runs WHERE tenant_id = ? AND status = 'running'"),
    nextSeq: p('SELECT coalesce(max(seq), 0) + 1 FROM check_runs WHERE tenant_id = ?').pluck(),
    insert: p(`INSERT INTO check_runs (id, tenant_id, status, started_by, started_at, started_ms, total, checked, seq)
        VALUES (?, ?, 'running', ?, ?, ?, ?, 0, ?)`),
    get: p('SELECT * FROM check_runs WHERE tenant_id = ? AND id = ?'),
    latest: p('SELECT * FROM check_runs WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1'),
    allRunning: p("SELECT * FROM check_runs WHERE status = 'running' ORDER BY started_ms"),
    checked: p('UPDATE check_runs SET checked = checked + ? WHERE tenant_id = ? AND id = ?'),
    finish: p("UPDATE check_runs SET status = ?, finished_at = ? WHERE tenant_id = ? AND id = ? AND status = 'running'"),
    itemInsert: p('INSERT INTO check_items (tenant_id, run_id, upn, kind) VALUES (?, ?, ?, ?)'),
    itemPending: p('SELECT * FROM check_items WHERE tenant_id = ? AND run_id = ? AND done = 0 ORDER BY upn, kind LIMIT ?'),
    workPending: p(`SELECT i.upn AS item_upn, i.kind AS item_kind, c.* FROM check_items i
        LEFT JOIN connections c ON c.tenant_id = i.tenant_id AND c.upn = i.upn AND c.kind = i.kind
        WHERE i.tenant_id = ? AND i.run_id = ? AND i.done = 0 AND (i.upn, i.kind) > (?, ?) ORDER BY i.upn, i.kind LIMIT ?`),
    itemDone: p(`UPDATE check_items SET done = 1, from_state = @from, to_state = @to, code = @code
        WHERE tenant_id = @tenantId AND run_id = @runId AND upn = @upn AND kind = @kind AND done = 0`),
    itemByState: p('SELECT to_state, count(*) AS n FROM check_items WHERE tenant_id = ? AND run_id = ? AND done = 1 GROUP BY to_state'),
    itemChanges: p('SELECT * FROM check_items WHERE tenant_id = ? AND run_id = ? AND done = 1 AND from_state <> to_state ORDER BY upn, kind'),
    connectionUpsert: p(CONNECTION_UPSERT),
    connectionChecked: p(`UPDATE connections SET state = ?, granted_scopes = ?, feature_results = ?, error = ?, last_checked_at = ?, updated_at = ?
        WHERE tenant_id = ? AND upn = ? AND kind = ? AND updated_at = ? AND state = ?`),
    itemUnchanged: p('UPDATE check_items SET to_state = from_state, code = NULL WHERE tenant_id = ? AND run_id = ? AND upn = ? AND kind = ?'),
    historyInsert: p(`INSERT INTO connection_history (tenant_id, upn, kind, from_state, to_state, code, at, run_id)
        VALUES (@tenantId, @upn, @kind, @from, @to, @code, @at, @runId)`),
    connectionRemove: p('DELETE FROM connections WHERE tenant_id = ? AND upn = ? AND kind = ? RETURNING state'),
    historyRemoval: p(`INSERT INTO connection_history (tenant_id, upn, kind, from_state, to_state, at, changed_by)
        VALUES (@tenantId, @upn, @kind, @from, 'disconnected', @at, @changedBy)`),
    historyList: p('SELECT * FROM connection_history WHERE tenant_id = ? AND upn = ? ORDER BY seq DESC LIMIT ?'),
    historyOfKind: p('SELECT * FROM connection_history WHERE tenant_id = ? AND upn = ? AND kind = ? ORDER BY seq DESC LIMIT ?'),
  };
}
