/**
 * Realistic API answers for driving the tab without the server: an ews-basic user, a connected
 * Graph user and an admin whose service-account test fails, whose latest health check found one
 * user to reconnect, and whose reconnect campaign has not started. Built from the domain modules, so they
 * follow the permission matrix and the deadlines instead of restating them.
 */
import type {
  AuditResponse,
  CampaignResponse,
  CheckLatestResponse,
  ConnectionHistoryResponse,
  ConnectionResponse,
  ConnectionsResponse,
  ConnectionTestResponse,
  DomainsResponse,
  MeResponse,
  PermissionsResponse,
  ServiceAccountResponse,
  ServiceAccountTestResponse,
  SummaryResponse,
} from '../../src/contract';
import { delegatedFeatures, legacyFeatures } from '../../src/domain/connection';
import { deadlineById, upcomingDeadlines, viewOf } from '../../src/domain/deadlines';
import { errorBody } from '../../src/domain/errors';
import { applicationFeatureMatrix, delegatedScopesFor, FEATURES, type Feature } from '../../src/domain/features';

const TENANT_ID = '4f1c2a8e-6b7d-4c39-9a51-2e0d8c7b3f10';
const CLIENT_ID = '9b2e4d61-3c8a-4f07-b5d2-71a0e6c4f9ab';
/** What the server builds for the user's tenant (ConnectionResponse.adminConsentUrl). */
export const ADMIN_CONSENT_URL = `https://login.microsoftonline.com/${TENANT_ID}/adminconsent?client_id=${CLIENT_ID}`;
const hoursAgo = (now: Date, h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();

export function meFor(kind: 'user' | 'admin'): MeResponse {
  const admin = kind === 'admin';
  return {
    user: admin
      ? { oid: 'a1', upn: 'megan.bowen@contoso.com', name: 'Megan Bowen', tenantId: TENANT_ID }
      : { oid: 'u1', upn: 'adele.vance@contoso.com', name: 'Adele Vance', tenantId: TENANT_ID },
    isAdmin: admin,
    auth: 'session',
    csrfToken: 'csrf-preview-token',
    sandbox: true,
    enabledFeatures: [...FEATURES],
  };
}

/** Still on Exchange with Basic Auth: works today, stops when EWS goes away. */
export function ewsConnection(now: Date): ConnectionResponse {
  const ewsEnd = deadlineById('ews-removed');
  if (!ewsEnd) throw new Error('ews-removed deadline missing');
  return {
    connection: {
      kind: 'ews-basic',
      state: 'connected',
      features: legacyFeatures(
        'ews-basic',
        'connected',
        new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(Date.parse(ewsEnd.date)),
      ),
      grantedScopes: [],
      lastCheckedAt: hoursAgo(now, 3),
    },
    deadline: viewOf(ewsEnd, now),
    adminConsentUrl: ADMIN_CONSENT_URL,
  };
}

const ALL_SCOPES = delegatedScopesFor(FEATURES);

export function graphConnection(now: Date): ConnectionResponse {
  return {
    connection: {
      kind: 'graph-delegated',
      state: 'connected',
      features: delegatedFeatures(ALL_SCOPES, 'connected'),
      grantedScopes: ALL_SCOPES,
      lastCheckedAt: hoursAgo(now, 0.2),
      legacy: { kind: 'ews-basic', lastSyncAt: hoursAgo(now, 30) },
    },
    adminConsentUrl: ADMIN_CONSENT_URL,
  };
}

/** Partial consent: Tasks.ReadWrite declined. */
export function graphTestResult(now: Date): ConnectionTestResponse {
  const scopes = ALL_SCOPES.filter((s) => s !== 'Tasks.ReadWrite');
  return {
    probes: [
      { feature: 'profile', probe: 'me', ok: true },
      { feature: 'emailSync', probe: 'inbox', ok: true },
      { feature: 'calendarSync', probe: 'calendar', ok: true },
      { feature: 'calendarScheduling', probe: 'events', ok: true },
      { feature: 'taskSync', probe: 'todoLists', ok: false, code: 'USER_CONSENT_REQUIRED', message: 'Tasks.ReadWrite was not granted.' },
    ],
    connection: {
      ...graphConnection(now).connection,
      state: 'missing-permissions',
      grantedScopes: scopes,
      features: delegatedFeatures(scopes, 'missing-permissions'),
      lastCheckedAt: now.toISOString(),
    },
  };
}

export function summary(now: Date): SummaryResponse {
  return {
    total: 248,
    byKind: { 'ews-basic': 91, 'ews-oauth': 17, 'graph-delegated': 112, 'graph-app': 28 },
    byState: { connected: 203, 'needs-reconnect': 14, 'missing-permissions': 9, failing: 4, unknown: 6, disconnected: 12 },
    needAction: 131,
    deadlines: upcomingDeadlines(now).map((d) => ({ ...d, affectedUsers: d.id === 'smtp-auth-basic-disabled' ? 91 : 108 })),
    serviceAccount: { configured: true, lastTest: { ok: false, ranAt: hoursAgo(now, 20) } },
  };
}

export const domains: DomainsResponse = {
  domains: ['contoso.com', 'fabrikam.com'],
  suggestions: ['contoso.com', 'contoso.onmicrosoft.com', 'northwind.contoso.com'],
};

export function serviceAccount(now: Date): ServiceAccountResponse {
  return {
    serviceAccount: {
      tenant: 'contoso.onmicrosoft.com',
      clientId: CLIENT_ID,
      secretHint: 'abc',
      secretExpiresAt: '2027-06-30',
      testAccount: 'sync-test@contoso.com',
      outOfScopeAccount: 'ceo@contoso.com',
      features: ['emailSync', 'calendarSync', 'calendarScheduling'],
      updatedAt: hoursAgo(now, 26),
      updatedBy: 'megan.bowen@contoso.com',
    },
  };
}

const GRANTED_ROLES = ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read'];
const ENABLED: Feature[] = ['emailSync', 'calendarSync', 'calendarScheduling'];

function matrix() {
  const m = applicationFeatureMatrix(GRANTED_ROLES, ENABLED);
  const out = {} as ServiceAccountTestResponse['features'];
  for (const f of FEATURES) out[f] = { required: m[f].required, granted: m[f].granted, missing: m[f].missing, available: m[f].available };
  return out;
}

export function failingTest(now: Date): ServiceAccountTestResponse {
  const missing = errorBody('PERMISSION_MISSING', 'Calendar Sync and Calendar Scheduling need Calendars.ReadWrite, which is not granted.');
  const policy = errorBody('ACCESS_POLICY_NOT_RESTRICTING', 'ceo@contoso.com was reachable: the access policy does not restrict the app.');
  return {
    ok: false,
    ranAt: now.toISOString(),
    steps: [
      { id: 'tenant', status: 'passed', message: 'contoso.onmicrosoft.com resolves to tenant 4f1c2a8e-6b7d-4c39-9a51-2e0d8c7b3f10.' },
      { id: 'token', status: 'passed', message: 'Signed in with the client secret (expires 30 June 2027).' },
      { id: 'roles', status: 'failed', ...missing },
      { id: 'mailbox-calendar', status: 'passed', message: 'Read the calendar of sync-test@contoso.com.' },
      { id: 'mailbox-events', status: 'failed', ...errorBody('ACCESS_DENIED') },
      { id: 'mailbox-inbox', status: 'passed', message: 'Read the inbox of sync-test@contoso.com.' },
      { id: 'access-policy', status: 'warning', ...policy },
      { id: 'features', status: 'skipped', message: 'Task Sync is not enabled for the service account.' },
    ],
    features: matrix(),
  };
}

export function permissions(now: Date): PermissionsResponse {
  return {
    ranAt: hoursAgo(now, 20),
    ok: false,
    features: matrix(),
    portal: {
      apiPermissionsUrl: `https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/CallAnAPI/appId/${CLIENT_ID}`,
      adminConsentUrl: `https://login.microsoftonline.com/${TENANT_ID}/adminconsent?client_id=${CLIENT_ID}`,
    },
  };
}

/** Pages of two kinds of answer, filtered as the server would (state, kind, search). */
export function connectionsPage(now: Date, query: URLSearchParams): ConnectionsResponse {
  const cursor = query.get('cursor') ?? undefined;
  const filtered = (page: ConnectionsResponse): ConnectionsResponse => {
    const state = query.get('state');
    const kind = query.get('kind');
    const search = query.get('search')?.toLowerCase();
    const items = page.items.filter(
      (r) =>
        (!state || r.state === state) &&
        (!kind || r.kind === kind) &&
        (!search || r.upn.includes(search) || (r.displayName ?? '').toLowerCase().includes(search)),
    );
    const filteredOut = items.length !== page.items.length;
    return { items, ...(page.nextCursor && !filteredOut ? { nextCursor: page.nextCursor } : {}) };
  };
  const first: ConnectionsResponse = {
    items: [
      {
        upn: 'adele.vance@contoso.com',
        displayName: 'Adele Vance',
        kind: 'ews-basic',
        state: 'connected',
        lastCheckedAt: hoursAgo(now, 3),
        lastSyncAt: hoursAgo(now, 1),
      },
      { upn: 'alex.wilber@contoso.com', displayName: 'Alex Wilber', kind: 'graph-delegated', state: 'connected', lastCheckedAt: hoursAgo(now, 2) },
      {
        upn: 'diego.siciliani@contoso.com',
        displayName: 'Diego Siciliani',
        kind: 'graph-delegated',
        state: 'needs-reconnect',
        lastCheckedAt: hoursAgo(now, 5),
        error: errorBody('REFRESH_TOKEN_REVOKED'),
      },
      { upn: 'grady.archie@contoso.com', displayName: 'Grady Archie', kind: 'ews-oauth', state: 'connected', lastSyncAt: hoursAgo(now, 4) },
      { upn: 'isaiah.langer@fabrikam.com', kind: 'graph-app', state: 'unknown', lastCheckedAt: hoursAgo(now, 1), error: errorBody('THROTTLED') },
    ],
    nextCursor: 'page-2',
  };
  if (cursor !== 'page-2') return filtered(first);
  return filtered({
    items: [
      { upn: 'lee.gu@contoso.com', displayName: 'Lee Gu', kind: 'graph-delegated', state: 'missing-permissions', lastCheckedAt: hoursAgo(now, 8) },
      {
        upn: 'lynne.robbins@contoso.com',
        displayName: 'Lynne Robbins',
        kind: 'ews-basic',
        state: 'failing',
        lastCheckedAt: hoursAgo(now, 9),
        error: errorBody('MFA_OR_CONDITIONAL_ACCESS'),
      },
    ],
  });
}

export function audit(now: Date): AuditResponse {
  return {
    items: [
      { at: hoursAgo(now, 20), actor: 'megan.bowen@contoso.com', action: 'service-account.test', details: { ok: false, failed: 'roles, mailbox.events' } },
      {
        at: hoursAgo(now, 26),
        actor: 'megan.bowen@contoso.com',
        action: 'service-account.save',
        target: 'contoso.onmicrosoft.com',
        details: { secretChanged: true },
      },
      { at: hoursAgo(now, 27), actor: 'megan.bowen@contoso.com', action: 'domains.save', details: { domains: ['contoso.com', 'fabrikam.com'] } },
      { at: hoursAgo(now, 50), actor: 'alex.wilber@contoso.com', action: 'connection.exchange.remove', target: 'alex.wilber@contoso.com' },
    ],
  };
}

/** The latest health check: done an hour ago, one user lost their grant. */
export function latestCheck(now: Date): CheckLatestResponse {
  return {
    check: {
      id: 'run-7',
      status: 'done',
      startedAt: hoursAgo(now, 1.02),
      finishedAt: hoursAgo(now, 1),
      checked: 248,
      total: 248,
      byState: { connected: 203, 'needs-reconnect': 14, 'missing-permissions': 9, failing: 4, unknown: 6, disconnected: 12 },
      changes: [{ upn: 'diego.siciliani@contoso.com', from: 'connected', to: 'needs-reconnect', code: 'REFRESH_TOKEN_REVOKED' }],
    },
  };
}

/** A user's history: the address passed to them from someone else, a brief outage, then the grant revoked. */
export function history(now: Date, upn: string): ConnectionHistoryResponse {
  return {
    upn,
    connections: [{ kind: 'graph-delegated', state: 'needs-reconnect', lastCheckedAt: hoursAgo(now, 5) }],
    changes: [
      { kind: 'graph-delegated', from: 'connected', to: 'needs-reconnect', code: 'REFRESH_TOKEN_REVOKED', at: hoursAgo(now, 5), seenBy: 'check' },
      { kind: 'graph-delegated', from: 'unknown', to: 'connected', at: hoursAgo(now, 31), seenBy: 'user' },
      { kind: 'graph-delegated', from: 'connected', to: 'unknown', code: 'GRAPH_UNAVAILABLE', at: hoursAgo(now, 36), seenBy: 'check' },
      { kind: 'graph-delegated', from: 'disconnected', to: 'connected', at: hoursAgo(now, 200), seenBy: 'user' },
      { kind: 'graph-delegated', from: 'needs-reconnect', to: 'disconnected', at: hoursAgo(now, 200), seenBy: 'system' },
    ],
  };
}

/** A campaign not started yet, with the permission it needs granted. */
export function campaign(): CampaignResponse {
  const none = { targeted: 0, installed: 0, nudged: 0, opened: 0, reconnected: 0 };
  return {
    campaign: {
      status: 'idle',
      minDaysBetween: 3,
      funnel: { ...none, unreachable: [], perDay: [] },
    },
  };
}

/** After the legacy connection is removed and nothing else exists. */
export function disconnected(): ConnectionResponse {
  return {
    connection: { kind: null, state: 'disconnected', features: delegatedFeatures([], 'disconnected'), grantedScopes: [], lastCheckedAt: null },
    adminConsentUrl: ADMIN_CONSENT_URL,
  };
}

export const errorOf = errorBody;
