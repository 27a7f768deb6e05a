/**
 * The user side: what my connection is, connect with delegated consent, test, disconnect.
 * Orchestrates the Store, the identity layer and the Graph probes; holds no HTTP details.
 */
import { randomBytes } from 'node:crypto';
import type { ConnectionResponse, ConnectionTestResponse, ConnectionView, ProbeResult } from '../contract';
import {
  delegatedFeatures,
  delegatedState,
  isLegacyKind,
  legacyFeatures,
  appOnlyFeatures,
  type ConnectionKind,
  type ConnectionState,
  type FeatureMap,
} from '../domain/connection';
import { delegatedVerdict, type CheckVerdict } from '../domain/checks';
import { deadlineById, nextDeadlineFor, tenantDeadlines, type Deadline } from '../domain/deadlines';
import { AppError, type ErrorCode, ERROR_CATALOGUE } from '../domain/errors';
import { FEATURES, delegatedScopesFor, type Feature } from '../domain/features';
import { adminConsentUrl } from '../domain/admin';
import { deepFreeze } from '../domain/formats';
import type { UserContext } from '../identity/verify';
import type { Logger } from '../log';
import type {
  AuditRecords,
  AuthStateRecord,
  AuthStateRecords,
  CheckRecords,
  ConnectionRecord,
  ConnectionRecords,
  ServiceAccountRecords,
  StoreLifecycle,
  TenantRecords,
} from '../store/types';
import { checkedConnection } from './checks';
import type { DelegatedAuthPort, ProbePort } from './ports';

export const AUTH_STATE_TTL_MS = 10 * 60_000;
/** Start URLs / consent round trips a user may have open at once (several tabs or windows). */
export const MAX_LIVE_STARTS_PER_USER = 5;
const KIND_PRIORITY: ConnectionKind[] = ['graph-delegated', 'graph-app', 'ews-oauth', 'ews-basic'];

export interface ConnectionServiceDeps {
  store: TenantRecords &
    ConnectionRecords &
    ServiceAccountRecords &
    AuthStateRecords &
    AuditRecords &
    Pick<CheckRecords, 'recordConnectionCheck' | 'removeConnectionWithHistory' | 'connectionHistory'> &
    Pick<StoreLifecycle, 'changeStamp'>;
  auth: DelegatedAuthPort;
  probes: ProbePort;
  logger: Logger;
  now: () => Date;
  tabEndpoint: string;
  authorityHost: string;
  clientId: string;
}

/**
 * Connections are keyed by UPN, and a UPN can be given to someone else after its owner leaves.
 * A record that names another person (a different oid) is not this user's: never shown, tested or
 * removed for them. Records without an oid (imported legacy ones) belong to the UPN.
 */
export function ownRecords(records: ConnectionRecord[], oid: string): ConnectionRecord[] {
  return records.filter((r) => !r.oid || r.oid === oid);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** What a tenant decides for its users' views. */
interface TenantSettings {
  features: Feature[];
  deadlines: Deadline[];
}

export class ConnectionService {
  constructor(private readonly deps: ConnectionServiceDeps) {}

  /** Tenant settings change rarely and are read on every request: keep them for a few seconds. */
  private readonly settingsCache = new Map<string, TenantSettings & { until: number }>();

  /** The kept settings while still fresh, without an await. */
  private freshSettings(tenantId: string, now = this.deps.now().getTime()): TenantSettings | undefined {
    const hit = this.settingsCache.get(tenantId);
    return hit && hit.until > now ? hit : undefined;
  }

  /** The tenant's enabled features and its deadlines (defaults with its overrides), re-read together. */
  private async tenantSettings(tenantId: string): Promise<TenantSettings> {
    const now = this.deps.now().getTime();
    const fresh = this.freshSettings(tenantId, now);
    if (fresh) return fresh;
    // Read first: ensureTenant writes.
    const tenant = (await this.deps.store.getTenant(tenantId)) ?? (await this.deps.store.ensureTenant(tenantId));
    const settings: TenantSettings = {
      features: tenant.enabledFeatures.length ? tenant.enabledFeatures : [...FEATURES],
      deadlines: tenantDeadlines(tenant.deadlineOverrides),
    };
    if (this.settingsCache.size > 10_000) this.settingsCache.clear();
    this.settingsCache.set(tenantId, { ...settings, until: now + 5_000 });
    return settings;
  }

  async enabledFeatures(tenantId: string): Promise<Feature[]> {
    return (await this.tenantSettings(tenantId)).features;
  }

  /**
   * Each user's last answer, kept only while nothing it derives from can have changed: the store
   * (its change stamp), the tenant's settings (the same feature array until re-read, and the
   * deadlines are re-read with it) and the UTC
   * day (days left to a deadline). GET /api/me/connection is the tab's hot path.
   */
  private readonly mine = new Map<string, { stamp: string; enabled: Feature[]; day: number; response: ConnectionResponse }>();

  async getMine(user: UserContext): Promise<ConnectionResponse> {
    // The stamp is taken before reading: a write landing in between only costs a later miss.
    const stamp = this.deps.store.changeStamp?.();
    if (stamp === undefined) return this.view(user.tenantId, await this.mineOf(user));
    // By oid as well: a reused UPN must not be served its previous owner's answer.
    const key = `${user.tenantId}/${user.upn}/${user.oid}`;
    const enabled = (this.freshSettings(user.tenantId) ?? (await this.tenantSettings(user.tenantId))).features;
    const day = Math.floor(this.deps.now().getTime() / 86_400_000);
    const hit = this.mine.get(key);
    if (hit && hit.stamp === stamp && hit.enabled === enabled && hit.day === day) return hit.response;
    // Frozen: the same object answers later requests (and the route keeps its JSON with it).
    const response = deepFreeze(await this.view(user.tenantId, await this.mineOf(user)));
    if (this.mine.size >= 10_000) this.mine.clear();
    this.mine.set(key, { stamp, enabled, day, response });
    return response;
  }

  /** The user's own connection records (see ownRecords). */
  private async mineOf(user: { tenantId: string; upn: string; oid: string }): Promise<ConnectionRecord[]> {
    return ownRecords(await this.deps.store.getConnections(user.tenantId, user.upn), user.oid);
  }

  private async view(tenantId: string, records: ConnectionRecord[]): Promise<ConnectionResponse> {
    const now = this.deps.now();
    const { features: enabled, deadlines } = await this.tenantSettings(tenantId);
    const byKind = new Map(records.map((r) => [r.kind, r]));
    const primary = KIND_PRIORITY.map((k) => byKind.get(k)).find((r) => r && r.state !== 'disconnected') ?? byKind.get('graph-delegated');
    const ewsEnd = deadlineById('ews-removed', deadlines)?.date ?? '2027-04-01';
    const adminConsentUrl = this.adminConsentUrl(tenantId);
    if (!primary) {
      return {
        adminConsentUrl,
        connection: {
          kind: null,
          state: 'disconnected',
          features: delegatedFeatures([], 'disconnected', enabled),
          grantedScopes: [],
          lastCheckedAt: null,
        },
      };
    }
    let features: FeatureMap;
    if (primary.kind === 'graph-delegated') features = delegatedFeatures(primary.grantedScopes, primary.state, enabled);
    else if (primary.kind === 'graph-app') {
      const [lastTest] = await this.deps.store.getServiceAccountTests(tenantId);
      const sa = await this.deps.store.getServiceAccount(tenantId);
      features = appOnlyFeatures(lastTest?.grantedRoles ?? [], lastTest?.ok === false ? 'failing' : primary.state, sa?.features ?? enabled);
    } else features = legacyFeatures(primary.kind, primary.state, ewsEnd);

    const legacy = isLegacyKind(primary.kind)
      ? undefined
      : KIND_PRIORITY.filter(isLegacyKind)
          .map((k) => byKind.get(k))
          .find(Boolean);
    const connection: ConnectionView = {
      kind: primary.kind,
      state: primary.state,
      features,
      grantedScopes: primary.grantedScopes,
      lastCheckedAt: primary.lastCheckedAt ?? null,
      ...(primary.error ? { error: primary.error } : {}),
      ...(legacy ? { legacy: { kind: legacy.kind, ...(legacy.lastSyncAt ? { lastSyncAt: legacy.lastSyncAt } : {}) } } : {}),
    };
    const deadline = isLegacyKind(primary.kind)
      ? nextDeadlineFor(primary.kind, now, deadlines)
      : legacy
        ? nextDeadlineFor(legacy.kind, now, deadlines)
        : undefined;
    return { connection, ...(deadline ? { deadline } : {}), adminConsentUrl };
  }

  /**
   * The start tickets and consent states each user holds, oldest first (ticket → state as it is
   * spent): a user keeps at most MAX_LIVE_STARTS_PER_USER rows; the oldest are dropped.
   */
  private readonly liveStarts = new Map<string, string[]>();

  private async trackStart(userKey: string, value: string, replaces?: string): Promise<void> {
    const list = (this.liveStarts.get(userKey) ?? []).filter((v) => v !== replaces);
    this.liveStarts.delete(userKey);
    list.push(value);
    this.liveStarts.set(userKey, list);
    while (list.length > MAX_LIVE_STARTS_PER_USER) await this.deps.store.takeAuthState(list.shift()!, this.deps.now());
    // Forgetting a user only forgets the bound, not the rows: those still expire after AUTH_STATE_TTL_MS.
    if (this.liveStarts.size > 10_000) this.liveStarts.delete(this.liveStarts.keys().next().value!);
  }

  /** POST /api/me/connect: a one-time start URL bound to this user. */
  async startUrl(user: UserContext, mode: 'popup' | 'redirect'): Promise<string> {
    const ticket = randomToken();
    await this.trackStart(`${user.tenantId}/${user.oid}`, ticket);
    await this.deps.store.putAuthState({
      state: ticket,
      tenantId: user.tenantId,
      oid: user.oid,
      upn: user.upn,
      stage: 'ticket',
      codeVerifier: '',
      nonce: '',
      scopes: [],
      mode,
      expiresAt: new Date(this.deps.now().getTime() + AUTH_STATE_TTL_MS).toISOString(),
    });
    return `${this.deps.tabEndpoint}/auth/start?ticket=${encodeURIComponent(ticket)}`;
  }

  /**
   * GET /auth/start: spends the one-time ticket and builds the authorization request (PKCE,
   * fresh single-use state bound to the same user).
   */
  async beginConsent(ticket: string): Promise<{ url: string; state: string; expiresAt: string }> {
    const record = await this.deps.store.takeAuthState(ticket, this.deps.now());
    if (record?.stage !== 'ticket') throw new AppError('AUTH_STATE_INVALID');
    const scopes = delegatedScopesFor(await this.enabledFeatures(record.tenantId));
    const pkce = this.deps.auth.makePkce();
    const state = randomToken();
    const nonce = randomToken(16);
    const expiresAt = new Date(this.deps.now().getTime() + AUTH_STATE_TTL_MS).toISOString();
    await this.trackStart(`${record.tenantId}/${record.oid}`, state, ticket);
    await this.deps.store.putAuthState({ ...record, stage: 'consent', state, codeVerifier: pkce.verifier, nonce, scopes, expiresAt });
    const url = await this.deps.auth.authCodeUrl({ scopes, state, codeChallenge: pkce.challenge, loginHint: record.upn, nonce });
    return { url, state, expiresAt };
  }

  /**
   * The consent came back for a `connect` state: redeem the code, make sure the consenting account
   * is the signed-in user, keep their tokens and scopes, run the probes.
   */
  async completeConsent(record: AuthStateRecord, code: string): Promise<ConnectionResponse> {
    const account = await this.deps.auth.redeemCode({
      code,
      codeVerifier: record.codeVerifier,
      nonce: record.nonce,
      scopes: record.scopes,
      tenantId: record.tenantId,
      expected: { oid: record.oid, tid: record.tenantId },
      persist: true,
    });
    const now = this.deps.now().toISOString();
    const enabled = await this.enabledFeatures(record.tenantId);
    const stored = (await this.deps.store.getConnections(record.tenantId, record.upn)).find((r) => r.kind === 'graph-delegated');
    // Someone who held this UPN before: the new person starts fresh, and the old tokens go.
    const previousOwner = stored?.oid && stored.oid !== record.oid ? stored : undefined;
    const existing = previousOwner ? undefined : stored;
    if (previousOwner) await this.dropPreviousOwner(previousOwner);
    const connection: ConnectionRecord = {
      tenantId: record.tenantId,
      upn: record.upn,
      kind: 'graph-delegated',
      oid: record.oid,
      displayName: account.name ?? existing?.displayName,
      state: delegatedState(account.grantedScopes, enabled),
      grantedScopes: account.grantedScopes,
      homeAccountId: account.homeAccountId,
      lastCheckedAt: now,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    // A reconnect is a change of state like those checks find: the admin's history of this user shows it.
    await this.deps.store.recordConnectionCheck(connection, existing?.state ?? (await this.stateWithoutRow(connection)));
    await this.deps.store.audit({
      tenantId: record.tenantId,
      actor: record.upn,
      action: 'connection.connected',
      target: record.upn,
      details: { scopes: account.grantedScopes },
    });
    // First health check right away, with the token just stored (no second refresh needed).
    try {
      const token = account.accessToken
        ? { accessToken: account.accessToken }
        : await this.deps.auth.acquireSilent({ tenantId: record.tenantId, homeAccountId: account.homeAccountId, scopes: record.scopes });
      await this.probeAndRecord(connection, token.accessToken, enabled);
    } catch (err) {
      this.deps.logger.warn({ err }, 'probes after consent failed');
    }
    return this.view(record.tenantId, await this.mineOf(record));
  }

  /**
   * The state a connection being created had before, for its history: `disconnected` when the
   * history's last word on it is a removal (so the history does not end on a removal while it is
   * back), else its own state (a first connection is no change).
   */
  private async stateWithoutRow(connection: ConnectionRecord): Promise<ConnectionState> {
    const [last] = await this.deps.store.connectionHistory(connection.tenantId, connection.upn, { kind: connection.kind, limit: 1 });
    return last?.to === 'disconnected' ? 'disconnected' : connection.state;
  }

  /** Removes what a UPN's previous owner left (their connection and token-cache partition), in the history and the audit log. */
  private async dropPreviousOwner(previous: ConnectionRecord): Promise<void> {
    if (previous.homeAccountId) await this.deps.auth.removeUser(previous.tenantId, previous.homeAccountId);
    // Deleted rather than overwritten, so nothing of theirs (creation date included) carries over.
    await this.deps.store.removeConnectionWithHistory(previous.tenantId, previous.upn, previous.kind, this.deps.now().toISOString(), 'system');
    await this.deps.store.audit({
      tenantId: previous.tenantId,
      actor: 'system',
      action: 'connection.previous-owner-removed',
      target: previous.upn,
      details: { kind: previous.kind, previousOid: previous.oid },
    });
  }

  adminConsentUrl(tenantId: string): string {
    return adminConsentUrl(this.deps.authorityHost, tenantId, this.deps.clientId);
  }

  /** POST /api/me/connection/test: redeem the refresh token (proves the grant), then probe Graph. */
  async test(user: UserContext): Promise<ConnectionTestResponse> {
    const records = await this.mineOf(user);
    const record = records.find((r) => r.kind === 'graph-delegated' && r.state !== 'disconnected' && r.homeAccountId);
    if (!record) throw new AppError('NOT_CONNECTED');
    const enabled = await this.enabledFeatures(user.tenantId);
    let token: { accessToken: string; grantedScopes: string[] };
    try {
      token = await this.deps.auth.acquireSilent({
        tenantId: user.tenantId,
        homeAccountId: record.homeAccountId!,
        scopes: delegatedScopesFor(enabled),
        forceRefresh: true,
      });
    } catch (err) {
      const code: ErrorCode = err instanceof AppError ? err.code : 'GRAPH_UNAVAILABLE';
      if (!(err instanceof AppError)) this.deps.logger.error({ err }, 'silent token acquisition failed');
      const updated = await this.recordError(record, code, enabled);
      return {
        probes: [{ feature: 'profile', probe: 'token', ok: false, code, message: updated.error?.message }],
        connection: (await this.view(user.tenantId, await this.mineOf(user))).connection,
      };
    }
    const probes = await this.probeAndRecord(
      { ...record, grantedScopes: token.grantedScopes.length ? token.grantedScopes : record.grantedScopes },
      token.accessToken,
      enabled,
    );
    const view = await this.view(user.tenantId, await this.mineOf(user));
    return { probes, connection: view.connection };
  }

  /**
   * Probes Graph with the user's token and records the outcome as a scheduled check does (same
   * verdict rules, per-feature results, history of a state change), from the state before it.
   */
  private async probeAndRecord(record: ConnectionRecord, accessToken: string, enabled: Feature[]): Promise<ProbeResult[]> {
    const { probes } = await this.deps.probes.run({ accessToken, features: enabled });
    const failed = new Map<string, ProbeResult>();
    for (const p of probes) if (!p.ok && p.code && !failed.has(p.probe)) failed.set(p.probe, p);
    const codeOf = (probe: string): ErrorCode | undefined => {
      const code = failed.get(probe)?.code;
      if (code === undefined) return undefined;
      return code in ERROR_CATALOGUE ? (code as ErrorCode) : 'GRAPH_UNAVAILABLE';
    };
    const verdict = delegatedVerdict({ enabled, grantedScopes: record.grantedScopes, profileCode: codeOf('me'), probeCode: codeOf });
    // The deciding probe's own sentence says which resource failed; the catalogue's otherwise.
    const message = [...failed.values()].find((p) => p.code === verdict.code)?.message;
    await this.recordCheck(record, verdict, message);
    return probes;
  }

  private async recordError(record: ConnectionRecord, code: ErrorCode, enabled: Feature[]): Promise<ConnectionRecord> {
    const { checked, written } = await this.recordCheck(record, delegatedVerdict({ enabled, grantedScopes: record.grantedScopes, tokenCode: code }));
    if (written && code === 'REFRESH_TOKEN_REVOKED') {
      await this.deps.store.audit({ tenantId: record.tenantId, actor: 'system', action: 'connection.lost', target: record.upn, details: { code } });
    }
    return checked;
  }

  /**
   * Writes what a check found, as the monitor does: state, per-feature results, error, history of a
   * change. Only onto the connection as it was read: one its user disconnected, reconnected or
   * removed meanwhile (in another window, say) stays as they left it, and nothing is written.
   */
  private async recordCheck(record: ConnectionRecord, verdict: CheckVerdict, message?: string): Promise<{ checked: ConnectionRecord; written: boolean }> {
    const checked = checkedConnection(record, verdict, this.deps.now().toISOString(), message);
    return { checked, written: await this.deps.store.recordConnectionCheck(checked, record.state, record.updatedAt) };
  }

  /** DELETE /api/me/connection/exchange */
  async removeLegacy(user: UserContext): Promise<void> {
    const legacy = (await this.mineOf(user)).filter((r) => isLegacyKind(r.kind));
    if (legacy.length === 0) throw new AppError('NOT_FOUND', { message: 'You have no Exchange (EWS) connection to remove.' });
    const at = this.deps.now().toISOString();
    for (const r of legacy) await this.deps.store.removeConnectionWithHistory(user.tenantId, user.upn, r.kind, at, 'user');
    await this.deps.store.audit({
      tenantId: user.tenantId,
      actor: user.upn,
      action: 'connection.exchange.removed',
      target: user.upn,
      details: { kinds: legacy.map((r) => r.kind) },
    });
  }

  /** DELETE /api/me/connection: drop the user's tokens and their Graph connection. */
  async disconnect(user: UserContext): Promise<void> {
    const graph = (await this.mineOf(user)).find((r) => r.kind === 'graph-delegated');
    if (graph?.homeAccountId) await this.deps.auth.removeUser(user.tenantId, graph.homeAccountId);
    else await this.deps.auth.removeUser(user.tenantId, `${user.oid}.${user.tenantId}`);
    if (graph) await this.deps.store.removeConnectionWithHistory(user.tenantId, user.upn, 'graph-delegated', this.deps.now().toISOString(), 'user');
    await this.deps.store.audit({ tenantId: user.tenantId, actor: user.upn, action: 'connection.disconnected', target: user.upn });
  }
}
