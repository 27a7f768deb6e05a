/**
 * Moving connections in and out: the export of the admin's filtered list (for the CSV download) and
 * the all-or-nothing import of legacy connections from text/csv or JSON. Both are audited; an import's
 * audit entry says what it changed, not only how many rows came in.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { CONNECTION_KINDS, CONNECTION_STATES, isConnectionKind, isConnectionState, isLegacyKind, type ConnectionState } from '../../domain/connection';
import { AppError } from '../../domain/errors';
import type { UserContext } from '../../identity/verify';
import type { ConnectionRecord, Store } from '../../store/types';
import { matchingConnections } from './overview';
import { EMAIL, fail } from '../validation';

export const MAX_IMPORT_ROWS = 20_000;

export interface ConnectionTransferDeps {
  store: Store;
  now: () => Date;
}

/** One row of an import as sent, before validation; `where` names it in errors (a CSV line, a JSON item). */
type Row = { upn?: unknown; kind?: unknown; lastSyncAt?: unknown; displayName?: unknown; state?: unknown };
type ImportRow = { where: string; row: Row };

/** The rows of an import body, read by its content type: text/csv with a header row, or JSON `{ connections: [...] }`. */
export function importRows(contentType: string, raw: Buffer): ImportRow[] {
  if (contentType.startsWith('text/csv')) return csvRows(raw);
  if (/^application\/([a-z.+-]*\+)?json\b/.test(contentType)) return jsonRows(raw);
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', {
    message: `Content-Type ${contentType || '(none)'} is not supported here; send text/csv or application/json.`,
  });
}

function csvRows(raw: Buffer): ImportRow[] {
  let records: string[][];
  try {
    records = parseCsv(raw.toString('utf8').replace(/^\uFEFF/, ''), { relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    fail(line ? `line ${line}` : 'csv', (err as Error).message.replace(/^Invalid [^:]*: /, ''));
  }
  const header = (records[0] ?? []).map((h) => h.trim());
  if (header[0]?.toLowerCase() !== 'upn' || header[1]?.toLowerCase() !== 'kind')
    fail('line 1', 'the header must start with upn,kind (then optionally lastSyncAt, displayName, state)');
  const known = ['upn', 'kind', 'lastsyncat', 'displayname', 'state'];
  header.forEach((h, i) => {
    if (!known.includes(h.toLowerCase())) fail(`line 1, column ${i + 1}`, `unknown column "${h}"`);
  });
  return records.slice(1).map((r, i) => {
    const row: Record<string, string> = {};
    header.forEach((h, j) => {
      const key = { upn: 'upn', kind: 'kind', lastsyncat: 'lastSyncAt', displayname: 'displayName', state: 'state' }[h.toLowerCase()]!;
      if (r[j] !== undefined && r[j] !== '') row[key] = r[j]!;
    });
    if (r.length > header.length) fail(`line ${i + 2}`, `has ${r.length} columns, the header has ${header.length}`);
    return { where: `line ${i + 2}`, row };
  });
}

function jsonRows(raw: Buffer): ImportRow[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    fail('body', 'is not valid JSON');
  }
  const list = (body as { connections?: unknown })?.connections;
  if (!Array.isArray(list)) fail('connections', 'must be a list');
  return list.map((row, i) => ({ where: `connections[${i}] (item ${i + 1})`, row: (row ?? {}) as Row }));
}

export class ConnectionTransfer {
  constructor(private readonly deps: ConnectionTransferDeps) {}

  /** Every connection matching the filters, for the CSV export; the export itself is audited. */
  async exportConnections(user: UserContext, query: Record<string, unknown>): Promise<ConnectionRecord[]> {
    const records: ConnectionRecord[] = [];
    for await (const r of matchingConnections(this.deps.store, user.tenantId, query)) records.push(r);
    const filters = Object.fromEntries(
      (['state', 'kind', 'search'] as const).filter((k) => typeof query[k] === 'string' && query[k] !== '').map((k) => [k, String(query[k]).slice(0, 200)]),
    );
    await this.deps.store.audit({
      tenantId: user.tenantId,
      actor: user.upn,
      action: 'connections.exported',
      details: { actorOid: user.oid, count: records.length, ...(Object.keys(filters).length ? { filters } : {}) },
    });
    return records;
  }

  /** All-or-nothing import of legacy connections; the first bad row names its line. */
  async importConnections(user: UserContext, contentType: string, raw: Buffer): Promise<{ imported: number }> {
    const rows = importRows(contentType, raw);
    if (rows.length === 0) fail('body', 'contains no connections');
    if (rows.length > MAX_IMPORT_ROWS) fail('body', `at most ${MAX_IMPORT_ROWS} connections per import`);

    const now = this.deps.now().toISOString();
    const seen = new Set<string>();
    const records: ConnectionRecord[] = [];
    const effect = new ImportEffect();
    for (const { where, row } of rows) {
      if (typeof row !== 'object' || row === null) fail(where, 'must be an object');
      const upn = typeof row.upn === 'string' ? row.upn.trim().toLowerCase() : '';
      if (!EMAIL.test(upn)) fail(where, `upn "${String(row.upn ?? '').slice(0, 80)}" is not a user principal name such as user@contoso.com`);
      if (!isConnectionKind(row.kind)) fail(where, `kind "${String(row.kind ?? '').slice(0, 40)}" must be one of ${CONNECTION_KINDS.join(', ')}`);
      let lastSyncAt: string | undefined;
      if (row.lastSyncAt !== undefined && row.lastSyncAt !== '') {
        const t = typeof row.lastSyncAt === 'string' ? Date.parse(row.lastSyncAt) : NaN;
        if (Number.isNaN(t)) fail(where, `lastSyncAt "${String(row.lastSyncAt).slice(0, 40)}" is not a date (use ISO 8601, e.g. 2026-11-01T08:00:00Z)`);
        lastSyncAt = new Date(t).toISOString();
      }
      if (row.state !== undefined && !isConnectionState(row.state))
        fail(where, `state "${String(row.state).slice(0, 40)}" must be one of ${CONNECTION_STATES.join(', ')}`);
      if (row.displayName !== undefined && (typeof row.displayName !== 'string' || row.displayName.length > 256))
        fail(where, 'displayName must be text of at most 256 characters');
      const key = `${upn}/${row.kind}`;
      if (seen.has(key)) fail(where, `duplicates an earlier row for ${upn} (${row.kind})`);
      seen.add(key);
      const existing = (await this.deps.store.getConnections(user.tenantId, upn)).find((r) => r.kind === row.kind);
      const defaultState: ConnectionState = isLegacyKind(row.kind) && lastSyncAt ? 'connected' : 'unknown';
      const record = {
        ...(existing ?? { grantedScopes: [], createdAt: now }),
        tenantId: user.tenantId,
        upn,
        kind: row.kind,
        state: (row.state as ConnectionState | undefined) ?? existing?.state ?? defaultState,
        ...(typeof row.displayName === 'string' ? { displayName: row.displayName } : {}),
        ...(lastSyncAt ? { lastSyncAt } : {}),
        updatedAt: now,
      } as ConnectionRecord;
      effect.add(existing, record);
      records.push(record);
    }
    await this.deps.store.importConnections(records);
    // An import overwrites states and names: the log says what changed, not only how many rows came in.
    await this.deps.store.audit({
      tenantId: user.tenantId,
      actor: user.upn,
      action: 'connections.imported',
      details: { actorOid: user.oid, count: records.length, ...effect.summary() },
    });
    return { imported: records.length };
  }
}

/** The fields an import can overwrite, compared per row with what was stored before. */
const IMPORTED_FIELDS = ['state', 'displayName', 'lastSyncAt'] as const;
type ImportedField = (typeof IMPORTED_FIELDS)[number];
/** The audit entry lists at most this many changed rows one by one (all are counted). */
const MAX_AUDITED_CHANGES = 100;

/** What an import did, row by row: created, changed (which fields, from what to what) or unchanged. */
class ImportEffect {
  private created = 0;
  private changed = 0;
  private unchanged = 0;
  private readonly fields: Partial<Record<ImportedField, number>> = {};
  private readonly changes: Array<{ upn: string; kind: string; from: Record<string, unknown>; to: Record<string, unknown> }> = [];

  add(before: ConnectionRecord | undefined, after: ConnectionRecord): void {
    if (!before) {
      this.created++;
      return;
    }
    const differing = IMPORTED_FIELDS.filter((f) => (before[f] ?? null) !== (after[f] ?? null));
    if (differing.length === 0) {
      this.unchanged++;
      return;
    }
    this.changed++;
    for (const f of differing) this.fields[f] = (this.fields[f] ?? 0) + 1;
    if (this.changes.length < MAX_AUDITED_CHANGES) {
      this.changes.push({
        upn: after.upn,
        kind: after.kind,
        from: Object.fromEntries(differing.map((f) => [f, before[f] ?? null])),
        to: Object.fromEntries(differing.map((f) => [f, after[f] ?? null])),
      });
    }
  }

  summary() {
    return {
      created: this.created,
      changed: this.changed,
      unchanged: this.unchanged,
      fields: this.fields,
      changes: this.changes,
      ...(this.changed > this.changes.length ? { changesListed: this.changes.length } : {}),
    };
  }
}
