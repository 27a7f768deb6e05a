/**
 * The sandbox's mutable world, built from a seed: tenants, app registrations, service principals,
 * users' consent grants, mailboxes, and the short-lived artefacts of sign-in (codes, refresh tokens).
 * It lives in memory; `reset()` in control.ts rebuilds it from the seed, and persist.ts can save it to
 * a file and restore it at the next start.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { MailboxState, SandboxSeed, SeedSecret, SeedTenant, SeedUser } from './seed';
import { canonicalScope, includesScope } from './permissions';

export interface AppRegistration {
  clientId: string;
  displayName: string;
  homeTenantId: string;
  multiTenant: boolean;
  secrets: SeedSecret[];
  redirectUris: string[];
  identifierUris: string[];
  appRoles: { id: string; value: string; displayName: string }[];
  /** Delegated scopes the app's own API exposes (e.g. access_as_user). */
  exposedScopes: string[];
  preAuthorizedClientIds: string[];
}

export interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  /** Microsoft Graph application roles granted (admin consent). */
  graphRoles: string[];
  /** Delegated Graph scopes an admin consented to for everyone in the tenant. */
  adminConsentedScopes: string[];
}

export interface UserState extends SeedUser {
  tenantId: string;
  roles: string[];
  /** Refresh tokens issued before this instant (ms) are revoked. */
  tokensValidFrom: number;
  revokeReason: 'revoked' | 'expired';
  conditionalAccess: 'mfa' | 'blocked' | null;
}

export interface TenantState {
  id: string;
  displayName: string;
  countryLetterCode: string;
  domains: SeedTenant['domains'];
  accessPolicy?: { appIds: string[]; group: string };
  users: UserState[];
  servicePrincipals: ServicePrincipal[];
}

export interface GraphEvent {
  id: string;
  calendarId: string;
  subject: string;
  bodyPreview: string;
  start: { dateTime: string; timeZone: string };
  end: { dateTime: string; timeZone: string };
  location: { displayName: string };
  organizer: { emailAddress: { name: string; address: string } };
  attendees: unknown[];
  isOnlineMeeting: boolean;
  createdDateTime: string;
  lastModifiedDateTime: string;
}

export interface GraphMessage {
  id: string;
  parentFolderId: string;
  subject: string;
  bodyPreview: string;
  receivedDateTime: string;
  sentDateTime: string;
  isRead: boolean;
  isDraft: boolean;
  importance: string;
  hasAttachments: boolean;
  from: { emailAddress: { name: string; address: string } };
  toRecipients: { emailAddress: { name: string; address: string } }[];
}

export interface Mailbox {
  calendars: { id: string; name: string; isDefaultCalendar: boolean; canEdit: boolean; color: string }[];
  events: GraphEvent[];
  folders: { id: string; displayName: string; wellKnownName: string }[];
  messages: GraphMessage[];
  todoLists: { id: string; displayName: string; wellknownListName: string; tasks: { id: string; title: string; status: string; createdDateTime: string }[] }[];
}

export interface AuthCode {
  tenantId: string;
  oid: string;
  clientId: string;
  redirectUri: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  resource: string;
  scopes: string[];
  nonce?: string;
  issuedAt: number;
  redeemed: boolean;
}

export interface RefreshTokenRecord {
  tenantId: string;
  oid: string;
  clientId: string;
  issuedAt: number;
}

/** Deterministic Graph-looking ids (`AAMkA…`), so the same seed gives the same ids. */
export function graphId(...parts: string[]): string {
  return 'AAMkA' + createHash('sha256').update(parts.join('|')).digest('base64url').slice(0, 38);
}

export function refreshTokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export function opaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

function isoNoMillis(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '.0000000');
}

const LOOPBACK = /^(https?|api):\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/i;

/** `http://localhost:1234/x` → `http://localhost/x`; other URIs unchanged. */
function loopbackAnyPort(uri: string): string {
  return uri.replace(LOOPBACK, (_m, scheme: string, host: string, _port: string, slash: string) => `${scheme}://${host}${slash}`);
}

function parseLoopback(uri: string): string | undefined {
  if (!LOOPBACK.test(uri)) return undefined;
  try {
    const u = new URL(uri);
    return `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
  } catch {
    return undefined;
  }
}

export class World {
  tenants: TenantState[] = [];
  apps: AppRegistration[] = [];
  /** `${tenantId}|${oid}|${clientId}` → delegated scopes the user granted. */
  grants = new Map<string, string[]>();
  mailboxes = new Map<string, Mailbox>();
  codes = new Map<string, AuthCode>();
  /** Keyed by the token's SHA-256 (refreshTokenKey), so a saved state file holds no usable token. */
  refreshTokens = new Map<string, RefreshTokenRecord>();
  clockOffsetMs = 0;

  constructor(
    readonly seed: SandboxSeed,
    private readonly extraRedirectUris: string[],
    private readonly extraIdentifierUris: string[] = [],
  ) {
    this.build();
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Rebuild from the seed (faults and clock are the control's business). */
  build(): void {
    const seed = this.seed;
    const startedAt = Date.now();
    const toUser = (u: SeedUser, tenantId: string): UserState => ({
      ...structuredClone(u),
      tenantId,
      roles: [...(u.roles ?? [])],
      tokensValidFrom: 0,
      revokeReason: 'revoked',
      conditionalAccess: null,
    });
    const product = seed.productApp;
    this.apps = [
      {
        clientId: product.clientId,
        displayName: product.displayName,
        homeTenantId: seed.tenant.id,
        multiTenant: true,
        secrets: structuredClone(product.secrets),
        redirectUris: [...new Set([...product.redirectUris, ...this.extraRedirectUris])],
        identifierUris: [
          ...new Set([
            ...product.identifierUris,
            ...this.extraIdentifierUris.map((u) => (u.toLowerCase().endsWith(product.clientId) ? u : `${u.replace(/\/$/, '')}/${product.clientId}`)),
          ]),
        ],
        appRoles: product.appRoles.map((r) => ({ id: r.id, value: r.value, displayName: r.displayName })),
        exposedScopes: product.scopes.map((s) => s.value),
        preAuthorizedClientIds: [...product.preAuthorizedClientIds],
      },
      {
        clientId: seed.serviceAccount.clientId,
        displayName: seed.serviceAccount.displayName,
        homeTenantId: seed.tenant.id,
        multiTenant: false,
        secrets: structuredClone(seed.serviceAccount.secrets),
        redirectUris: [],
        identifierUris: [],
        appRoles: [],
        exposedScopes: [],
        preAuthorizedClientIds: [],
      },
    ];
    const contoso: TenantState = {
      id: seed.tenant.id,
      displayName: seed.tenant.displayName,
      countryLetterCode: seed.tenant.countryLetterCode,
      domains: structuredClone(seed.tenant.domains),
      accessPolicy: seed.tenant.accessPolicy ? structuredClone(seed.tenant.accessPolicy) : undefined,
      users: seed.users.map((u) => toUser(u, seed.tenant.id)),
      servicePrincipals: [
        { id: product.servicePrincipalId, appId: product.clientId, displayName: product.displayName, graphRoles: [], adminConsentedScopes: [] },
        {
          id: seed.serviceAccount.servicePrincipalId,
          appId: seed.serviceAccount.clientId,
          displayName: seed.serviceAccount.displayName,
          graphRoles: [...seed.serviceAccount.grantedRoles],
          adminConsentedScopes: [],
        },
      ],
    };
    this.tenants = [
      contoso,
      ...seed.otherTenants.map((t) => ({
        id: t.tenant.id,
        displayName: t.tenant.displayName,
        countryLetterCode: t.tenant.countryLetterCode,
        domains: structuredClone(t.tenant.domains),
        accessPolicy: t.tenant.accessPolicy ? structuredClone(t.tenant.accessPolicy) : undefined,
        users: t.users.map((u) => toUser(u, t.tenant.id)),
        servicePrincipals: [
          { id: t.productServicePrincipalId, appId: product.clientId, displayName: product.displayName, graphRoles: [], adminConsentedScopes: [] },
        ],
      })),
    ];
    this.grants.clear();
    for (const t of this.tenants) {
      for (const u of t.users) {
        if (u.consentedScopes?.length) this.grants.set(`${t.id}|${u.oid}|${product.clientId}`, u.consentedScopes.map(canonicalScope));
      }
    }
    this.codes.clear();
    this.refreshTokens.clear();
    this.mailboxes.clear();
    for (const t of this.tenants) for (const u of t.users) if (u.mailbox !== 'none') this.mailboxes.set(u.oid, this.buildMailbox(u, startedAt));
  }

  private buildMailbox(u: UserState, startedAt: number): Mailbox {
    const content = this.seed.mailboxContent;
    const defaultCal = {
      id: graphId(u.oid, 'calendar', content.calendarName),
      name: content.calendarName,
      isDefaultCalendar: true,
      canEdit: true,
      color: 'auto',
    };
    const otherCals = content.otherCalendars.map((name) => ({
      id: graphId(u.oid, 'calendar', name),
      name,
      isDefaultCalendar: false,
      canEdit: false,
      color: 'lightBlue',
    }));
    const day = new Date(startedAt);
    day.setUTCHours(0, 0, 0, 0);
    const events = content.events.map((e, i): GraphEvent => {
      const [h, m] = e.start.split(':').map(Number);
      const start = day.getTime() + e.dayOffset * 86_400_000 + (h * 60 + m) * 60_000;
      return {
        id: graphId(u.oid, 'event', String(i)),
        calendarId: defaultCal.id,
        subject: e.subject,
        bodyPreview: '',
        start: { dateTime: isoNoMillis(start), timeZone: 'UTC' },
        end: { dateTime: isoNoMillis(start + e.minutes * 60_000), timeZone: 'UTC' },
        location: { displayName: e.location ?? '' },
        organizer: { emailAddress: { name: u.displayName, address: u.upn } },
        attendees: [],
        isOnlineMeeting: (e.location ?? '').toLowerCase().includes('teams'),
        createdDateTime: new Date(startedAt - 7 * 86_400_000).toISOString(),
        lastModifiedDateTime: new Date(startedAt - 86_400_000).toISOString(),
      };
    });
    const inbox = { id: graphId(u.oid, 'folder', 'inbox'), displayName: 'Inbox', wellKnownName: 'inbox' };
    const folders = [
      inbox,
      { id: graphId(u.oid, 'folder', 'sentitems'), displayName: 'Sent Items', wellKnownName: 'sentitems' },
      { id: graphId(u.oid, 'folder', 'drafts'), displayName: 'Drafts', wellKnownName: 'drafts' },
    ];
    const nameOf = (upn: string) => this.findUserAnywhere(upn)?.displayName ?? upn;
    const messages = content.messages.map((msg, i): GraphMessage => {
      const at = new Date(startedAt - msg.hoursAgo * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return {
        id: graphId(u.oid, 'message', String(i)),
        parentFolderId: inbox.id,
        subject: msg.subject,
        bodyPreview: msg.bodyPreview,
        receivedDateTime: at,
        sentDateTime: at,
        isRead: msg.isRead,
        isDraft: false,
        importance: 'normal',
        hasAttachments: false,
        from: { emailAddress: { name: nameOf(msg.from), address: msg.from } },
        toRecipients: [{ emailAddress: { name: u.displayName, address: u.upn } }],
      };
    });
    const todoLists = content.todoLists.map((l) => ({
      id: graphId(u.oid, 'todo', l.displayName),
      displayName: l.displayName,
      wellknownListName: l.wellknownListName,
      tasks: l.tasks.map((title, i) => ({
        id: graphId(u.oid, 'task', l.displayName, String(i)),
        title,
        status: 'notStarted',
        createdDateTime: new Date(startedAt - 86_400_000).toISOString(),
      })),
    }));
    return { calendars: [defaultCal, ...otherCals], events, folders, messages, todoLists };
  }

  /** A tenant by GUID or by verified domain (unverified domains do not resolve, as in Entra). */
  findTenant(idOrDomain: string): TenantState | undefined {
    const key = idOrDomain.toLowerCase();
    return this.tenants.find((t) => t.id === key || t.domains.some((d) => d.isVerified && d.name.toLowerCase() === key));
  }

  /**
   * Per tenant, users by oid and lower-cased upn (directories of thousands). Users are only ever
   * appended, so the index takes in the new ones; a replaced or shorter list is indexed again.
   */
  readonly #userIndex = new WeakMap<TenantState, { users: UserState[]; size: number; byKey: Map<string, UserState> }>();

  findUser(tenant: TenantState, idOrUpn: string): UserState | undefined {
    const key = idOrUpn.toLowerCase();
    let index = this.#userIndex.get(tenant);
    if (!index || index.users !== tenant.users || index.size > tenant.users.length) {
      index = { users: tenant.users, size: 0, byKey: new Map<string, UserState>() };
      this.#userIndex.set(tenant, index);
    }
    // First match wins, as a linear search over the list would.
    for (; index.size < tenant.users.length; index.size++) {
      const u = tenant.users[index.size]!;
      if (!index.byKey.has(u.oid)) index.byKey.set(u.oid, u);
      if (!index.byKey.has(u.upn.toLowerCase())) index.byKey.set(u.upn.toLowerCase(), u);
    }
    const hit = index.byKey.get(key);
    // An upn could be edited in place (control API); fall back to a search if the hit went stale.
    if (hit && (hit.oid === key || hit.upn.toLowerCase() === key)) return hit;
    return tenant.users.find((u) => u.oid === key || u.upn.toLowerCase() === key);
  }

  findUserAnywhere(idOrUpn: string): UserState | undefined {
    for (const t of this.tenants) {
      const u = this.findUser(t, idOrUpn);
      if (u) return u;
    }
    return undefined;
  }

  /** Like findUserAnywhere but throws a message naming the user (control API input). */
  requireUser(upn: string): UserState {
    if (typeof upn !== 'string' || !upn) throw new Error('upn is required');
    const u = this.findUserAnywhere(upn);
    if (!u) throw new Error(`No sandbox user '${upn}'`);
    return u;
  }

  tenantOf(user: UserState): TenantState {
    return this.tenants.find((t) => t.id === user.tenantId) as TenantState;
  }

  app(clientId: string): AppRegistration | undefined {
    return this.apps.find((a) => a.clientId === clientId.toLowerCase());
  }

  servicePrincipal(tenant: TenantState, appId: string): ServicePrincipal | undefined {
    return tenant.servicePrincipals.find((sp) => sp.appId === appId.toLowerCase());
  }

  /** App ID URI or `api://<clientId>` or bare client id → the app's client id. */
  resolveAppUri(uri: string): string | undefined {
    const key = loopbackAnyPort(uri.toLowerCase().replace(/\/$/, ''));
    const app = this.apps.find(
      (a) => a.clientId === key || `api://${a.clientId}` === key || a.identifierUris.some((u) => loopbackAnyPort(u.toLowerCase().replace(/\/$/, '')) === key),
    );
    return app?.clientId;
  }

  /**
   * Entra's loopback rule: for http://localhost and http://127.0.0.1 redirect URIs the port is not
   * compared, so a product on an ephemeral port matches `http://localhost:3978/auth/callback`.
   */
  redirectUriAllowed(app: AppRegistration, uri: string): boolean {
    if (app.redirectUris.includes(uri)) return true;
    const given = parseLoopback(uri);
    return given !== undefined && app.redirectUris.some((r) => parseLoopback(r) === given);
  }

  grantsFor(tenantId: string, oid: string, clientId: string): string[] {
    const user = this.grants.get(`${tenantId}|${oid}|${clientId}`) ?? [];
    const tenant = this.tenants.find((t) => t.id === tenantId);
    const admin = tenant ? (this.servicePrincipal(tenant, clientId)?.adminConsentedScopes ?? []) : [];
    return [...new Set([...user, ...admin])];
  }

  addGrants(tenantId: string, oid: string, clientId: string, scopes: readonly string[]): void {
    const key = `${tenantId}|${oid}|${clientId}`;
    const current = this.grants.get(key) ?? [];
    for (const s of scopes) if (!includesScope(current, s)) current.push(canonicalScope(s));
    this.grants.set(key, current);
  }

  setGrants(tenantId: string, oid: string, clientId: string, scopes: readonly string[]): void {
    this.grants.set(`${tenantId}|${oid}|${clientId}`, scopes.map(canonicalScope));
  }

  addRefreshToken(token: string, record: RefreshTokenRecord): void {
    this.refreshTokens.set(refreshTokenKey(token), record);
  }

  refreshToken(token: string): RefreshTokenRecord | undefined {
    return this.refreshTokens.get(refreshTokenKey(token));
  }

  setMailbox(user: UserState, state: MailboxState): void {
    user.mailbox = state;
    if (state !== 'none' && !this.mailboxes.has(user.oid)) this.mailboxes.set(user.oid, this.buildMailbox(user, Date.now()));
  }
}
