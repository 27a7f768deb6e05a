/**
 * The admin side: domains, the service account, its test, the permission matrix and the
 * overview. Inputs are validated here with messages that name the field; every write is audited.
 */
import { createHmac } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import type {
  AuditResponse,
  ConnectionsResponse,
  DomainsResponse,
  PermissionsResponse,
  ServiceAccountInput,
  ServiceAccountResponse,
  ServiceAccountTestResponse,
  ReachPermissionView,
  ServiceAccountView,
  SummaryResponse,
} from '../contract';
import {
  CONNECTION_KINDS,
  CONNECTION_STATES,
  isConnectionKind,
  isConnectionState,
  isLegacyKind,
  type ConnectionKind,
  type ConnectionState,
} from '../domain/connection';
import { DEFAULT_DEADLINES, tenantDeadlines, upcomingDeadlines } from '../domain/deadlines';
import { AppError } from '../domain/errors';
import { looksLikeSecretId } from '../domain/diagnosis';
import { DNS_NAME_PATTERN as DNS_NAME, isGuid } from '../domain/formats';
import { FEATURES, isFeature, type Feature } from '../domain/features';
import type { UserContext } from '../identity/verify';
import type { Logger } from '../log';
import type { ConnectionRecord, ServiceAccountRecord, ServiceAccountTestRecord, Store } from '../store/types';
import type { ServiceAccountTesterPort, TestOutcomeListener } from './ports';

const EMAIL = /^[^\s@,;"<>]+@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9])$/;
export const MAX_DOMAINS = 200;
export const MAX_IMPORT_ROWS = 20_000;

export interface AdminServiceDeps {
  store: Store;
  tester: ServiceAccountTesterPort;
  logger: Logger;
  now: () => Date;
  authorityHost: string;
  /** Key for the configuration fingerprint (HMAC). */
  hashKey: Buffer;
  /** Whether the product's own app may install its bot (reach); shown beside the service account's matrix. */
  reachPermission?: (tenantId: string) => Promise<ReachPermissionView>;
}

function fail(field: string, message: string, remedy?: string): never {
  throw new AppError('VALIDATION_FAILED', { message: `${field}: ${message}`, ...(remedy ? { remedy } : {}) });
}

function notOwnTenant(tenant: string): never {
  fail(
    'tenant',
    `${tenant} is not your own tenant (a service account can only be set up for the tenant you are signed in to)`,
    'Enter your own tenant: the Directory (tenant) ID from the app registration’s Overview page, or one of your tenant’s verified domains.',
  );
}

/** The first zod issue as one line naming the field. */
function zodFail(error: z.ZodError, prefix = ''): never {
  const issue = error.issues[0]!;
  const field =
    prefix +
    (issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : 'body');
  fail(field, issue.message);
}

const serviceAccountSchema = z.strictObject({
  tenant: z
    .string({ error: 'is required' })
    .trim()
    .min(1, 'is required')
    .transform((v) => v.toLowerCase())
    .refine((v) => isGuid(v) || DNS_NAME.test(v), 'must be a tenant GUID or a domain such as contoso.com'),
  clientId: z
    .string({ error: 'is required' })
    .trim()
    .refine(isGuid, 'must be a GUID (the Application (client) ID from the app’s Overview page)')
    .transform((v) => v.toLowerCase()),
  clientSecret: z.string().min(1, 'must not be empty').max(1024, 'is too long').optional(),
  secretExpiresAt: z.iso
    .date('must be a date as YYYY-MM-DD')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  testAccount: z.string({ error: 'is required' }).trim().toLowerCase().regex(EMAIL, 'must be a mailbox address such as user@contoso.com'),
  outOfScopeAccount: z
    .string()
    .trim()
    .toLowerCase()
    .regex(EMAIL, 'must be a mailbox address such as user@contoso.com')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  features: z
    .array(z.string().refine(isFeature, `must be one of ${FEATURES.join(', ')}`), { error: 'must be a list of features' })
    .min(1, 'must enable at least one feature')
    .transform((f) => [...new Set(f)] as Feature[]),
});

export type ParsedServiceAccount = z.infer<typeof serviceAccountSchema>;

/** Keyed (HMAC) so the stored fingerprint of a configuration says nothing about its secret. */
export function configHash(
  key: Buffer,
  c: { tenant: string; clientId: string; clientSecret: string; testAccount: string; outOfScopeAccount?: string; features: readonly string[] },
): string {
  return createHmac('sha256', key)
    .update(JSON.stringify([c.tenant, c.clientId, c.clientSecret, c.testAccount, c.outOfScopeAccount ?? '', [...c.features].sort()]))
    .digest('hex');
}

function toView(r: ServiceAccountRecord): ServiceAccountView {
  return {
    tenant: r.tenant,
    clientId: r.clientId,
    secretHint: r.secretHint,
    ...(r.secretExpiresAt ? { secretExpiresAt: r.secretExpiresAt } : {}),
    testAccount: r.testAccount,
    ...(r.outOfScopeAccount ? { outOfScopeAccount: r.outOfScopeAccount } : {}),
    features: r.features,
    updatedAt: r.updatedAt,
    updatedBy: r.updatedBy,
  };
}

export class AdminService {
  private readonly outcomeListeners: TestOutcomeListener[] = [];

  constructor(private readonly deps: AdminServiceDeps) {}

  /** Subscribes to the outcomes of stored tests of the saved configuration; returns the unsubscribe. */
  onTestOutcome(listener: TestOutcomeListener): () => void {
    this.outcomeListeners.push(listener);
    return () => {
      const i = this.outcomeListeners.indexOf(listener);
      if (i >= 0) this.outcomeListeners.splice(i, 1);
    };
  }

  // ---- domains
  async getDomains(user: UserContext): Promise<DomainsResponse> {
    const domains = await this.deps.store.getDomains(user.tenantId);
    return { domains, suggestions: await this.suggestions(user, domains) };
  }

  private async suggestions(user: UserContext, have: string[]): Promise<string[]> {
    const out = new Set<string>();
    const own = user.upn.split('@')[1];
    if (own) out.add(own);
    const sa = await this.deps.store.getServiceAccount(user.tenantId);
    if (sa) {
      const verified = await this.deps.tester.verifiedDomains(sa).catch(() => []);
      for (const d of verified) out.add(d.toLowerCase());
    }
    return [...out].filter((d) => !have.includes(d)).sort();
  }

  async putDomains(user: UserContext, body: unknown): Promise<DomainsResponse> {
    if (!body || typeof body !== 'object' || !Array.isArray((body as { domains?: unknown }).domains)) fail('domains', 'must be a list of domain names');
    const raw = (body as { domains: unknown[] }).domains;
    if (raw.length > MAX_DOMAINS) fail('domains', `at most ${MAX_DOMAINS} domains`);
    const domains: string[] = [];
    raw.forEach((d, i) => {
      if (typeof d !== 'string') fail(`domains[${i}]`, 'must be a text value');
      const v = d.trim().toLowerCase().replace(/\.$/, '');
      if (!DNS_NAME.test(v)) fail(`domains[${i}]`, `"${d.slice(0, 80)}" is not a valid domain name`);
      if (!domains.includes(v)) domains.push(v);
    });
    const sa = await this.deps.store.getServiceAccount(user.tenantId);
    if (sa && !domains.includes(sa.testAccount.split('@')[1]!)) {
      throw new AppError('TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED', {
        message: `The saved service account’s test mailbox ${sa.testAccount} would fall outside the domains; keep its domain or change the test mailbox first.`,
      });
    }
    await this.deps.store.setDomains(user.tenantId, domains);
    await this.deps.store.audit({ tenantId: user.tenantId, actor: user.upn, action: 'domains.updated', details: { domains } });
    return { domains, suggestions: await this.suggestions(user, domains) };
  }

  // ---- service account
  async getServiceAccount(user: UserContext): Promise<ServiceAccountResponse> {
    const r = await this.deps.store.getServiceAccount(user.tenantId);
    return { serviceAccount: r ? toView(r) : null };
  }

  /** Validates an input, falling back to the saved secret when none is sent. */
  private async parse(user: UserContext, body: unknown): Promise<ParsedServiceAccount & { clientSecret: string }> {
    const parsed = serviceAccountSchema.safeParse(body);
    if (!parsed.success) zodFail(parsed.error);
    const input = parsed.data;
    if (isGuid(input.tenant) && input.tenant !== user.tenantId) notOwnTenant(input.tenant);
    if (input.clientSecret !== undefined && looksLikeSecretId(input.clientSecret)) throw new AppError('SECRET_ID_NOT_VALUE');
    let secret = input.clientSecret;
    if (secret === undefined) {
      const saved = await this.deps.store.getServiceAccount(user.tenantId);
      if (!saved) fail('clientSecret', 'is required (paste the secret’s Value)');
      if (saved.clientId !== input.clientId) fail('clientSecret', 'is required when the client id changes');
      secret = saved.clientSecret;
    }
    return { ...input, clientSecret: secret };
  }

  /**
   * A domain names whichever tenant owns it: resolve it and make sure that is the admin's own
   * tenant, or one tenant's admin could file another tenant's mailboxes under their own.
   * `whenUnresolved: 'refuse'` (saving) also refuses a tenant Entra cannot resolve now;
   * `'allow'` (a test) lets the test itself report why it does not resolve.
   */
  private async requireOwnTenant(ownTenantId: string, tenant: string, whenUnresolved: 'refuse' | 'allow'): Promise<void> {
    if (isGuid(tenant)) {
      if (tenant !== ownTenantId) notOwnTenant(tenant);
      return;
    }
    let resolved: string;
    try {
      resolved = (await this.deps.tester.resolveTenant(tenant)).toLowerCase();
    } catch (err) {
      if (whenUnresolved === 'allow') return;
      if (err instanceof AppError && err.code === 'GRAPH_UNAVAILABLE') {
        throw new AppError('GRAPH_UNAVAILABLE', {
          message: `Entra ID could not be asked which tenant ${tenant} belongs to, so the service account was not saved.`,
        });
      }
      fail(
        'tenant',
        `${tenant} is not a domain Entra ID knows`,
        'Use the Directory (tenant) ID from the app registration’s Overview page, or a verified domain of your tenant.',
      );
    }
    if (resolved !== ownTenantId) notOwnTenant(tenant);
  }

  async putServiceAccount(user: UserContext, body: unknown): Promise<ServiceAccountResponse> {
    const input = await this.parse(user, body);
    const domains = await this.deps.store.getDomains(user.tenantId);
    if (domains.length === 0) throw new AppError('DOMAINS_NOT_PREDEFINED');
    const testDomain = input.testAccount.split('@')[1]!;
    if (!domains.includes(testDomain)) {
      throw new AppError('TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED', {
        message: `The test mailbox ${input.testAccount} is not in a pre-defined domain (${domains.join(', ')}).`,
      });
    }
    // Last, as the only check that asks Entra: a form that fails locally costs no network call.
    await this.requireOwnTenant(user.tenantId, input.tenant, 'refuse');
    const record: ServiceAccountRecord = {
      tenantId: user.tenantId,
      tenant: input.tenant,
      clientId: input.clientId,
      clientSecret: input.clientSecret,
      secretHint: input.clientSecret.slice(0, 3),
      ...(input.secretExpiresAt ? { secretExpiresAt: input.secretExpiresAt } : {}),
      testAccount: input.testAccount,
      ...(input.outOfScopeAccount ? { outOfScopeAccount: input.outOfScopeAccount } : {}),
      features: input.features,
      updatedAt: this.deps.now().toISOString(),
      updatedBy: user.upn,
    };
    const previous = await this.deps.store.getServiceAccount(user.tenantId);
    await this.deps.store.putServiceAccount(record);
    await this.deps.store.audit({
      tenantId: user.tenantId,
      actor: user.upn,
      action: previous ? 'service-account.updated' : 'service-account.created',
      target: input.clientId,
      details: {
        tenant: input.tenant,
        testAccount: input.testAccount,
        features: input.features,
        secretChanged: !previous || previous.clientSecret !== input.clientSecret,
      },
    });
    return { serviceAccount: toView(record) };
  }

  async deleteServiceAccount(user: UserContext): Promise<void> {
    const removed = await this.deps.store.deleteServiceAccount(user.tenantId);
    if (!removed) throw new AppError('NOT_FOUND', { message: 'No service account is saved for this tenant.' });
    await this.deps.store.audit({ tenantId: user.tenantId, actor: user.upn, action: 'service-account.deleted' });
  }

  /** Runs the test on the body's (unsaved) configuration, or on the saved one. */
  async test(user: UserContext, body: unknown): Promise<ServiceAccountTestResponse> {
    let input: ParsedServiceAccount & { clientSecret: string };
    if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body as object).length === 0)) {
      const saved = await this.deps.store.getServiceAccount(user.tenantId);
      if (!saved) throw new AppError('SERVICE_ACCOUNT_NOT_CONFIGURED');
      input = { ...saved, outOfScopeAccount: saved.outOfScopeAccount, secretExpiresAt: saved.secretExpiresAt };
    } else {
      input = await this.parse(user, body);
    }
    // The saved configuration is checked too: it may predate this check.
    await this.requireOwnTenant(user.tenantId, input.tenant, 'allow');
    const result = await this.runAndRecord(user.tenantId, user.upn, input);
    const reach = await this.#reach(user.tenantId);
    return reach ? { ...result, reach } : result;
  }

  async #reach(tenantId: string): Promise<ReachPermissionView | undefined> {
    return this.deps.reachPermission?.(tenantId).catch((err) => {
      this.deps.logger.warn({ err, tenantId }, 'reach permission unknown');
      return undefined;
    });
  }

  /** Also used by the bot's `test` command and the daily schedule. */
  async testSaved(tenantId: string, actor: string): Promise<ServiceAccountTestResponse | undefined> {
    const saved = await this.deps.store.getServiceAccount(tenantId);
    if (!saved) return undefined;
    // A configuration saved before the tenant was checked on save may name another tenant.
    try {
      await this.requireOwnTenant(tenantId, saved.tenant, 'allow');
    } catch (err) {
      this.deps.logger.warn({ tenantId, tenant: saved.tenant }, 'the saved service account names another tenant: not tested');
      throw err;
    }
    return this.runAndRecord(tenantId, actor, saved);
  }

  private async runAndRecord(
    tenantId: string,
    actor: string,
    input: { tenant: string; clientId: string; clientSecret: string; testAccount: string; outOfScopeAccount?: string; features: Feature[] },
  ): Promise<ServiceAccountTestResponse> {
    const domains = await this.deps.store.getDomains(tenantId);
    const outcome = await this.deps.tester.run({ ...input, domains });
    const ranAt = this.deps.now().toISOString();
    const hash = configHash(this.deps.hashKey, input);
    const saved = await this.deps.store.getServiceAccount(tenantId);
    const savedHash = saved ? configHash(this.deps.hashKey, saved) : undefined;
    const previousOfSaved = (await this.deps.store.getServiceAccountTests(tenantId)).find((t) => t.configHash === savedHash);
    const record: ServiceAccountTestRecord = {
      tenantId,
      ranAt,
      ranBy: actor,
      configHash: hash,
      ok: outcome.ok,
      steps: outcome.steps,
      features: outcome.features,
      grantedRoles: outcome.grantedRoles,
    };
    await this.deps.store.putServiceAccountTest(record);
    await this.deps.store.audit({
      tenantId,
      actor,
      action: 'service-account.tested',
      target: input.clientId,
      details: { ok: outcome.ok, failed: outcome.steps.filter((s) => s.status === 'failed').map((s) => s.code) },
    });
    if (hash === savedHash) {
      for (const listener of this.outcomeListeners) {
        await listener(tenantId, previousOfSaved, record).catch((err) => this.deps.logger.error({ err }, 'could not queue the test notification'));
      }
    }
    return { ok: outcome.ok, ranAt, steps: outcome.steps, features: outcome.features };
  }

  async permissions(tenantId: string): Promise<PermissionsResponse> {
    const saved = await this.deps.store.getServiceAccount(tenantId);
    if (!saved) {
      const reach = await this.#reach(tenantId);
      return { ranAt: null, ok: null, features: null, portal: null, ...(reach ? { reach } : {}) };
    }
    const hash = configHash(this.deps.hashKey, saved);
    const test = (await this.deps.store.getServiceAccountTests(tenantId)).find((t) => t.configHash === hash);
    const portal = {
      apiPermissionsUrl: `https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/CallAnAPI/appId/${saved.clientId}`,
      adminConsentUrl: `${this.deps.authorityHost}/${saved.tenant}/adminconsent?client_id=${saved.clientId}`,
    };
    const reach = await this.#reach(tenantId);
    return { ranAt: test?.ranAt ?? null, ok: test?.ok ?? null, features: test?.features ?? null, portal, ...(reach ? { reach } : {}) };
  }

  // ---- overview
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

  /** Every connection matching the filters, for the CSV export; the export itself is audited. */
  async exportConnections(user: UserContext, query: Record<string, unknown>): Promise<ConnectionRecord[]> {
    const records: ConnectionRecord[] = [];
    for await (const r of this.allConnections(user.tenantId, query)) records.push(r);
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

  async *allConnections(tenantId: string, query: Record<string, unknown>): AsyncGenerator<ConnectionRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.queryConnections(tenantId, {
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

  /** All-or-nothing import of legacy connections; the first bad row names its line. */
  async importConnections(user: UserContext, contentType: string, raw: Buffer): Promise<{ imported: number }> {
    type Row = { upn?: unknown; kind?: unknown; lastSyncAt?: unknown; displayName?: unknown; state?: unknown };
    let rows: Array<{ where: string; row: Row }>;
    if (contentType.startsWith('text/csv')) {
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
      rows = records.slice(1).map((r, i) => {
        const row: Record<string, string> = {};
        header.forEach((h, j) => {
          const key = { upn: 'upn', kind: 'kind', lastsyncat: 'lastSyncAt', displayname: 'displayName', state: 'state' }[h.toLowerCase()]!;
          if (r[j] !== undefined && r[j] !== '') row[key] = r[j]!;
        });
        if (r.length > header.length) fail(`line ${i + 2}`, `has ${r.length} columns, the header has ${header.length}`);
        return { where: `line ${i + 2}`, row };
      });
    } else if (/^application\/([a-z.+-]*\+)?json\b/.test(contentType)) {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        fail('body', 'is not valid JSON');
      }
      const list = (body as { connections?: unknown })?.connections;
      if (!Array.isArray(list)) fail('connections', 'must be a list');
      rows = list.map((row, i) => ({ where: `connections[${i}] (item ${i + 1})`, row: (row ?? {}) as Row }));
    } else {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', {
        message: `Content-Type ${contentType || '(none)'} is not supported here; send text/csv or application/json.`,
      });
    }
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

  async audit(tenantId: string, query: Record<string, unknown>): Promise<AuditResponse> {
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail('limit', 'must be a whole number from 1 to 1000');
    const items = await this.deps.store.listAudit(tenantId, { limit, ...(typeof query.before === 'string' ? { before: query.before } : {}) });
    return {
      items: items.map(({ at, actor, action, target, details }) => ({ at, actor, action, ...(target ? { target } : {}), ...(details ? { details } : {}) })),
    };
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

function kindsAffectedBy(id: string): readonly ConnectionKind[] {
  return DEFAULT_DEADLINES.find((d) => d.id === id)?.affects ?? [];
}

export type { ServiceAccountInput };
