/**
 * What the admin sees of the tenant: the summary (counts by kind and state, who needs action,
 * upcoming deadlines and how many users each affects), the connections list with its filters and
 * paging, a user's history of state changes, and the audit log.
 */
import type { AuditResponse, ConnectionHistoryResponse, ConnectionsResponse, SummaryResponse } from '../../contract';
import {
  CONNECTION_KINDS,
  CONNECTION_STATES,
  isConnectionKind,
  isConnectionState,
  isLegacyKind,
  type ConnectionKind,
  type ConnectionState,
} from '../../domain/connection';
import { DEFAULT_DEADLINES, tenantDeadlines, upcomingDeadlines } from '../../domain/deadlines';
import type { ConnectionRecord, Store } from '../../store/types';
import { AppError } from '../../domain/errors';
import { EMAIL, fail, shown } from '../validation';

export interface AdminOverviewDeps {
  store: Store;
  now: () => Date;
}

/**
 * Every connection of the tenant the query's filters match (state, kind, search; unknown values
 * filter nothing), page after page.
 */
export async function* matchingConnections(store: Store, tenantId: string, query: Record<string, unknown>): AsyncGenerator<ConnectionRecord> {
  let cursor: string | undefined;
  do {
    const page = await store.queryConnections(tenantId, {
      state: isConnectionState(query.state) ? query.state : undefined,
      kind: isConnectionKind(query.kind) ? query.kind : undefined,
      search: typeof query.search === 'string' && query.search ? query.search : undefined,
      cursor,
      limit: 500,
    });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor);
}

/** How many of a user's state changes the history shows. */
export const HISTORY_LIMIT = 100;

export class AdminOverview {
  constructor(private readonly deps: AdminOverviewDeps) {}

  async summary(tenantId: string): Promise<SummaryResponse> {
    const counts = await this.deps.store.countConnections(tenantId);
    const byKind = Object.fromEntries(CONNECTION_KINDS.map((k) => [k, 0])) as Record<ConnectionKind, number>;
    const byState = Object.fromEntries(CONNECTION_STATES.map((s) => [s, 0])) as Record<ConnectionState, number>;
    let total = 0;
    let needAction = 0;
    for (const c of counts) {
      byKind[c.kind] += c.count;
      byState[c.state] += c.count;
      total += c.count;
      if (isLegacyKind(c.kind) || c.state === 'needs-reconnect' || c.state === 'missing-permissions') needAction += c.count;
    }
    const tenantDates = tenantDeadlines((await this.deps.store.getTenant(tenantId))?.deadlineOverrides);
    const deadlines = upcomingDeadlines(this.deps.now(), tenantDates).map((d) => ({
      ...d,
      affectedUsers: counts.filter((c) => kindsAffectedBy(d.id).includes(c.kind)).reduce((n, c) => n + c.count, 0),
    }));
    const saved = await this.deps.store.getServiceAccount(tenantId);
    const [last] = saved ? await this.deps.store.getServiceAccountTests(tenantId) : [];
    return {
      total,
      byKind,
      byState,
      needAction,
      deadlines,
      serviceAccount: { configured: !!saved, ...(last ? { lastTest: { ok: last.ok, ranAt: last.ranAt } } : {}) },
    };
  }

  async connections(tenantId: string, query: Record<string, unknown>): Promise<ConnectionsResponse> {
    const state = query.state;
    const kind = query.kind;
    if (state !== undefined && !isConnectionState(state)) fail('state', `must be one of ${CONNECTION_STATES.join(', ')}`);
    if (kind !== undefined && !isConnectionKind(kind)) fail('kind', `must be one of ${CONNECTION_KINDS.join(', ')}`);
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) fail('limit', 'must be a whole number from 1 to 500');
    const search = typeof query.search === 'string' && query.search.trim() ? query.search.trim().slice(0, 200) : undefined;
    const cursor = typeof query.cursor === 'string' && query.cursor ? query.cursor : undefined;
    const page = await this.deps.store.queryConnections(tenantId, {
      state: state as ConnectionState | undefined,
      kind: kind as ConnectionKind | undefined,
      search,
      cursor,
      limit,
    });
    return {
      items: page.items.map((r) => ({
        upn: r.upn,
        ...(r.displayName ? { displayName: r.displayName } : {}),
        kind: r.kind,
        state: r.state,
        ...(r.lastCheckedAt ? { lastCheckedAt: r.lastCheckedAt } : {}),
        ...(r.lastSyncAt ? { lastSyncAt: r.lastSyncAt } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(r.featureResults ? { featureResults: r.featureResults } : {}),
      })),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }

  allConnections(tenantId: string, query: Record<string, unknown>): AsyncGenerator<ConnectionRecord> {
    return matchingConnections(this.deps.store, tenantId, query);
  }

  /**
   * A user's connections now and their changes of state, newest first (at most HISTORY_LIMIT): found
   * by health checks, or made by the user's own Test or reconnect.
   */
  async history(tenantId: string, query: Record<string, unknown>): Promise<ConnectionHistoryResponse> {
    const raw = query.upn;
    if (typeof raw !== 'string' || !raw.trim()) fail('upn', 'give the user principal name, e.g. ?upn=megan.bowen@contoso.com');
    const upn = raw.trim().toLowerCase();
    if (!EMAIL.test(upn)) fail('upn', `"${shown(raw, 80)}" is not a user principal name such as megan.bowen@contoso.com`);
    const [changes, connections] = await Promise.all([
      this.deps.store.connectionHistory(tenantId, upn, { limit: HISTORY_LIMIT }),
      this.deps.store.getConnections(tenantId, upn),
    ]);
    if (changes.length === 0 && connections.length === 0) {
      throw new AppError('NOT_FOUND', {
        message: `No connection of ${upn} is known in your organisation.`,
        remedy: 'Check the spelling, or import the user first.',
      });
    }
    return {
      upn,
      connections: connections.map((c) => ({ kind: c.kind, state: c.state, ...(c.lastCheckedAt ? { lastCheckedAt: c.lastCheckedAt } : {}) })),
      changes: changes.map((h) => ({
        kind: h.kind,
        from: h.from,
        to: h.to,
        ...(h.code ? { code: h.code } : {}),
        at: h.at,
        seenBy: h.runId ? 'check' : (h.changedBy ?? 'user'),
      })),
    };
  }

  async audit(tenantId: string, query: Record<string, unknown>): Promise<AuditResponse> {
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail('limit', 'must be a whole number from 1 to 1000');
    const items = await this.deps.store.listAudit(tenantId, { limit, ...(typeof query.before === 'string' ? { before: query.before } : {}) });
    return {
      items: items.map(({ at, actor, action, target, details }) => ({ at, actor, action, ...(target ? { target } : {}), ...(details ? { details } : {}) })),
    };
  }
}

function kindsAffectedBy(id: string): readonly ConnectionKind[] {
  return DEFAULT_DEADLINES.find((d) => d.id === id)?.affects ?? [];
}
