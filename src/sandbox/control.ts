/**
 * The control API: switch faults and tenant facts per test. In-process as `sandbox.control`, and over
 * HTTP as `POST /_control/<method>` with the options object as JSON (`GET /_control/stats`), answered
 * only for loopback clients. Every method takes one options object so the two stay the same.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxContext } from './context';
import { Faults, type FaultTarget, type SandboxStats } from './faults';
import { isLoopback, mediaType, readBody, sendJson } from './http';
import type { ConsentDecision, MailboxState } from './seed';
import { addUsers, breakUsers, type AddUsersOptions, type BreakHow } from './population';

export type { FaultTarget, SandboxStats };

export interface SandboxControl {
  /** Back to the seed: users, grants, roles, secrets, mailboxes; drops codes and tokens; faults off; clock reset. */
  reset(): void;
  /** Delay every request on the target by `ms`. */
  setLatency(opts: { ms: number; target?: FaultTarget }): void;
  /** 429 storm: the next `count` requests (all, until clearFaults, when omitted) get 429 with Retry-After. */
  throttle(opts?: { target?: FaultTarget; count?: number; retryAfterSeconds?: number }): void;
  /** Server errors: the next `count` requests (all when omitted) fail with `status` (default 503). Entra's JWKS is never faulted. */
  failures(opts?: { target?: FaultTarget; status?: number; count?: number; retryAfterSeconds?: number }): void;
  /** Park requests on the target after they are accepted (and counted per mailbox) until `release`. */
  hold(opts?: { target?: FaultTarget }): void;
  release(): void;
  /** Latency, storms, failures and holds off. */
  clearFaults(): void;
  /** Revoke the user's refresh tokens issued so far: AADSTS50173, or AADSTS700082 with reason 'expired'. */
  revokeRefreshTokens(opts: { upn: string; reason?: 'revoked' | 'expired' }): void;
  /** Turn the seed's "every refresh fails" flag on or off for a user. */
  setRefreshRevoked(opts: { upn: string; revoked: boolean }): void;
  /** The consent decision applied without a page when login_hint names this user (null: ask on the page). */
  setConsent(opts: { upn: string; decision: ConsentDecision | null }): void;
  /** Replace the delegated scopes the user has granted to an app (default: the product app). */
  setGrantedScopes(opts: { upn: string; scopes: string[]; clientId?: string }): void;
  /** Tenant-wide admin consent for delegated scopes of an app (default: the product app, Contoso). */
  setAdminConsent(opts: { scopes: string[]; clientId?: string; tenantId?: string }): void;
  /** Application roles (Microsoft Graph) granted to an app (default: the service account, Contoso). */
  setAppRoles(opts: { roles: string[]; clientId?: string; tenantId?: string }): void;
  /** Expire one secret (by Secret ID) or all secrets of an app (default: the service account). */
  expireSecret(opts?: { clientId?: string; secretId?: string }): void;
  /** Add a client secret; returns it as the portal shows it once. */
  addSecret(opts?: { clientId?: string; expiresInDays?: number; displayName?: string }): { id: string; value: string; endDateTime: string };
  /** Put a mailbox inside or outside the application access policy. */
  setAccessPolicy(opts: { upn: string; inPolicy: boolean }): void;
  setMailbox(opts: { upn: string; mailbox: MailboxState }): void;
  /** Conditional Access for a user's token requests: 'mfa' (AADSTS50076), 'blocked' (AADSTS53003), null. */
  setConditionalAccess(opts: { upn: string; policy: 'mfa' | 'blocked' | null }): void;
  /** Move the sandbox clock forward (codes, refresh tokens, token lifetimes at Graph, secret expiry). */
  advanceClock(opts: { seconds: number }): void;
  /** Retry-After on the 429 for more than 4 concurrent requests on one mailbox (default 1 s). */
  setConcurrencyRetryAfter(opts: { seconds: number }): void;
  /** `count` new users with active mailboxes inside the access policy, consenting without a page. */
  addUsers(opts: AddUsersOptions): Array<{ upn: string; oid: string }>;
  /** Break (or restore) chosen users in bulk: revoke their tokens, fail every refresh, remove the mailbox, leave the access policy. */
  breakUsers(opts: { upns: string[]; how: BreakHow }): number;
  stats(): SandboxStats;
  /** Graph requests being served now for one mailbox. */
  inFlight(opts: { upn: string }): number;
}

export function createControl(ctx: SandboxContext): SandboxControl {
  const world = ctx.world;
  const faults = ctx.faults;
  const seed = world.seed;
  const tenantOrDefault = (tenantId?: string) => {
    const t = tenantId ? world.findTenant(tenantId) : world.tenants[0];
    if (!t) throw new Error(`No sandbox tenant '${tenantId}'`);
    return t;
  };
  const appOrThrow = (clientId: string) => {
    const a = world.app(clientId);
    if (!a) throw new Error(`No sandbox app '${clientId}'`);
    return a;
  };
  const target = (t: FaultTarget | undefined): FaultTarget => {
    const v = t ?? 'all';
    if (!['entra', 'graph', 'all'].includes(v)) throw new Error(`target must be entra, graph or all`);
    return v;
  };
  const optionalCount = (n: number | undefined) => {
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new Error('count must be a non-negative integer');
    return n;
  };
  return {
    reset() {
      faults.clear();
      faults.stats = Faults.emptyStats();
      world.clockOffsetMs = 0;
      world.build();
      ctx.authRequests.clear();
    },
    setLatency({ ms, target: t }) {
      faults.setLatency(ms, target(t));
    },
    throttle(opts = {}) {
      faults.setThrottle(target(opts.target), optionalCount(opts.count), opts.retryAfterSeconds);
    },
    failures(opts = {}) {
      faults.setFailure(target(opts.target), opts.status ?? 503, optionalCount(opts.count), opts.retryAfterSeconds);
    },
    hold(opts = {}) {
      faults.hold(target(opts.target));
    },
    release() {
      faults.release();
    },
    clearFaults() {
      faults.clear();
    },
    revokeRefreshTokens({ upn, reason }) {
      const u = world.requireUser(upn);
      // Tokens issued in this same millisecond count as before the revocation.
      u.tokensValidFrom = world.now() + 1;
      u.revokeReason = reason === 'expired' ? 'expired' : 'revoked';
    },
    setRefreshRevoked({ upn, revoked }) {
      world.requireUser(upn).refreshRevoked = revoked === true;
    },
    setConsent({ upn, decision }) {
      const u = world.requireUser(upn);
      if (decision === null) delete u.presetConsent;
      else u.presetConsent = decision;
    },
    setGrantedScopes({ upn, scopes, clientId }) {
      const u = world.requireUser(upn);
      world.setGrants(u.tenantId, u.oid, appOrThrow(clientId ?? seed.productApp.clientId).clientId, scopes);
    },
    setAdminConsent({ scopes, clientId, tenantId }) {
      const t = tenantOrDefault(tenantId);
      const sp = world.servicePrincipal(t, clientId ?? seed.productApp.clientId);
      if (!sp) throw new Error(`App '${clientId}' has no service principal in ${t.displayName}`);
      sp.adminConsentedScopes = [...scopes];
    },
    setAppRoles({ roles, clientId, tenantId }) {
      const t = tenantOrDefault(tenantId);
      const sp = world.servicePrincipal(t, clientId ?? seed.serviceAccount.clientId);
      if (!sp) throw new Error(`App '${clientId}' has no service principal in ${t.displayName}`);
      sp.graphRoles = [...roles];
    },
    expireSecret(opts = {}) {
      const app = appOrThrow(opts.clientId ?? seed.serviceAccount.clientId);
      const past = new Date(world.now() - 1000).toISOString();
      const hit = app.secrets.filter((s) => !opts.secretId || s.id === opts.secretId);
      if (hit.length === 0) throw new Error(`No secret '${opts.secretId}' on app ${app.clientId}`);
      for (const s of hit) s.endDateTime = past;
    },
    addSecret(opts = {}) {
      const app = appOrThrow(opts.clientId ?? seed.serviceAccount.clientId);
      const days = opts.expiresInDays ?? 180;
      const secret = {
        id: randomUUID(),
        displayName: opts.displayName ?? 'added by test',
        // Shaped like portal-made values: three characters, a tilde marker, then random text.
        value: `${randomBytes(3).toString('base64url').slice(0, 3)}8Q~${randomBytes(27).toString('base64url').slice(0, 34)}`,
        endDateTime: new Date(world.now() + days * 86_400_000).toISOString(),
      };
      app.secrets.push(secret);
      return { id: secret.id, value: secret.value, endDateTime: secret.endDateTime };
    },
    setAccessPolicy({ upn, inPolicy }) {
      world.requireUser(upn).inAccessPolicy = inPolicy;
    },
    setMailbox({ upn, mailbox }) {
      if (!['active', 'notRestEnabled', 'none'].includes(mailbox)) throw new Error('mailbox must be active, notRestEnabled or none');
      world.setMailbox(world.requireUser(upn), mailbox);
    },
    setConditionalAccess({ upn, policy }) {
      if (policy !== null && policy !== 'mfa' && policy !== 'blocked') throw new Error('policy must be mfa, blocked or null');
      world.requireUser(upn).conditionalAccess = policy;
    },
    advanceClock({ seconds }) {
      if (!Number.isFinite(seconds) || seconds < 0) throw new Error('seconds must be a non-negative number');
      world.clockOffsetMs += seconds * 1000;
    },
    setConcurrencyRetryAfter({ seconds }) {
      if (!Number.isFinite(seconds) || seconds < 0) throw new Error('seconds must be a non-negative number');
      faults.concurrencyRetryAfterSeconds = seconds;
    },
    addUsers(opts) {
      return addUsers(world, opts);
    },
    breakUsers(opts) {
      return breakUsers(world, opts);
    },
    stats() {
      return structuredClone(faults.stats);
    },
    inFlight({ upn }) {
      return faults.stats.inFlight[world.requireUser(upn).upn] ?? 0;
    },
  };
}

const METHODS = new Set<keyof SandboxControl>([
  'reset',
  'setLatency',
  'throttle',
  'failures',
  'hold',
  'release',
  'clearFaults',
  'revokeRefreshTokens',
  'setRefreshRevoked',
  'setConsent',
  'setGrantedScopes',
  'setAdminConsent',
  'setAppRoles',
  'expireSecret',
  'addSecret',
  'setAccessPolicy',
  'setMailbox',
  'setConditionalAccess',
  'advanceClock',
  'setConcurrencyRetryAfter',
  'addUsers',
  'breakUsers',
  'stats',
  'inFlight',
]);

/** `/_control/*` on the HTTPS listener; returns false for other paths. */
export async function handleControl(control: SandboxControl, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  if (!url.pathname.startsWith('/_control/')) return false;
  if (!isLoopback(req)) {
    sendJson(res, 403, { error: { code: 'Forbidden', message: 'The sandbox control API answers loopback clients only.' } });
    return true;
  }
  const name = url.pathname.slice('/_control/'.length) as keyof SandboxControl;
  if (!METHODS.has(name)) {
    sendJson(res, 404, { error: { code: 'NotFound', message: `No control method '${name}'. Methods: ${[...METHODS].join(', ')}` } });
    return true;
  }
  const readOnly = name === 'stats' || name === 'inFlight';
  if (req.method !== 'POST' && !(readOnly && req.method === 'GET')) {
    sendJson(res, 405, { error: { code: 'MethodNotAllowed', message: 'Use POST with a JSON body.' } });
    return true;
  }
  let opts: unknown = Object.fromEntries(url.searchParams);
  if (req.method === 'POST') {
    const raw = await readBody(req, 64 * 1024);
    if (raw.trim()) {
      if (mediaType(req) !== 'application/json') {
        sendJson(res, 415, { error: { code: 'UnsupportedMediaType', message: 'Send application/json.' } });
        return true;
      }
      try {
        opts = JSON.parse(raw);
      } catch {
        sendJson(res, 400, { error: { code: 'BadRequest', message: 'Body is not valid JSON.' } });
        return true;
      }
    }
  }
  try {
    const fn = control[name] as (o: unknown) => unknown;
    const result = fn(opts ?? {});
    sendJson(res, 200, { ok: true, result: result ?? null });
  } catch (err) {
    sendJson(res, 400, { error: { code: 'BadRequest', message: err instanceof Error ? err.message : String(err) } });
  }
  return true;
}
