/**
 * The delegated flow through real MSAL against the sandbox tenant: authorization URL → sandbox
 * authorize (login_hint, preset consent) → redeemCode into the user's own partition → acquireSilent
 * → forced refresh after revocation, and every failure mapped to its catalogue code.
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { AppError } from '../../src/domain/errors';
import { delegatedScopesFor, FEATURES } from '../../src/domain/features';
import { DelegatedAuth } from '../../src/identity/delegated-auth';
import { accountsIn } from '../../src/identity/token-cache';
import { Keyring, openStore } from '../../src/store';
import type { Store } from '../../src/store/types';
import type { Sandbox } from '../../src/sandbox';
import { authorizeWithoutPages, PRODUCT_REDIRECT_URI, startTestSandbox } from '../helpers/sandbox';

const SCOPES = delegatedScopesFor(FEATURES);

let sandbox: Sandbox;
let store: Store;
let writes: Array<{ tenantId: string; key: string }>;
let auth: DelegatedAuth;

function userOf(upn: string) {
  const u = sandbox.seed.users.find((x) => x.upn === upn);
  if (!u) throw new Error(`no seed user ${upn}`);
  return u;
}

/** Counts partition writes on a real store (the plugin must write only what changed). */
function counting(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'putTokenCache') {
        return async (tenantId: string, key: string, serialized: string) => {
          writes.push({ tenantId, key });
          return target.putTokenCache(tenantId, key, serialized);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function newAuth(overrides: Partial<ConstructorParameters<typeof DelegatedAuth>[0]> = {}): DelegatedAuth {
  return new DelegatedAuth({
    authorityHost: sandbox.authorityHost,
    tenantId: 'organizations',
    clientId: sandbox.productApp.clientId,
    clientSecret: sandbox.productApp.clientSecret,
    redirectUri: PRODUCT_REDIRECT_URI,
    knownAuthorities: [sandbox.knownAuthority],
    store: counting(store),
    ...overrides,
  });
}

/** What /auth/start + the browser + /auth/callback do, without the product's routes. */
async function consent(upn: string, options: { scopes?: string[]; expectedOid?: string; withNonce?: boolean; via?: DelegatedAuth } = {}) {
  const a = options.via ?? auth;
  const pkce = a.makePkce();
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const scopes = options.scopes ?? SCOPES;
  const url = await a.authCodeUrl({ scopes, state, codeChallenge: pkce.challenge, loginHint: upn, nonce });
  const callback = await authorizeWithoutPages(url);
  expect(callback.searchParams.get('state')).toBe(state);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.searchParams.get('error')} ${callback.searchParams.get('error_description')}`);
  return a.redeemCode({
    code,
    codeVerifier: pkce.verifier,
    scopes,
    tenantId: sandbox.tenantId,
    ...(options.withNonce === false ? {} : { nonce }),
    expectedOid: options.expectedOid ?? userOf(upn).oid,
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  sandbox = await startTestSandbox();
  store = await openStore('sqlite::memory:', new Keyring([{ id: 'k1', key: randomBytes(32) }], 'k1'));
});

afterAll(async () => {
  await store?.close();
  await sandbox?.close();
});

beforeEach(() => {
  sandbox.control.reset();
  writes = [];
  auth = newAuth();
});

describe('authCodeUrl', () => {
  it('builds an authorization-code + PKCE request for the sandbox sign-in pages', async () => {
    const url = new URL(
      await auth.authCodeUrl({
        scopes: SCOPES,
        state: 's1',
        codeChallenge: 'c'.repeat(43),
        loginHint: 'megan.bowen@contoso.com',
        nonce: 'n1',
        prompt: 'consent',
      }),
    );
    expect(url.origin).toBe(sandbox.pagesOrigin);
    expect(url.pathname).toBe('/organizations/oauth2/v2.0/authorize');
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(sandbox.productApp.clientId);
    expect(q.get('redirect_uri')).toBe(PRODUCT_REDIRECT_URI);
    expect(q.get('code_challenge')).toBe('c'.repeat(43));
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('state')).toBe('s1');
    expect(q.get('nonce')).toBe('n1');
    expect(q.get('login_hint')).toBe('megan.bowen@contoso.com');
    expect(q.get('prompt')).toBe('consent');
    expect(q.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['Mail.ReadWrite', 'Calendars.ReadWrite', 'Tasks.ReadWrite', 'offline_access']));
    expect(url.toString()).not.toContain(sandbox.productApp.clientSecret);
  });

  it('an unknown tenant is TENANT_NOT_FOUND; an unreachable authority is GRAPH_UNAVAILABLE', async () => {
    const wrongTenant = newAuth({ tenantId: '00000000-0000-4000-8000-000000000000' });
    expect(await codeOf(wrongTenant.authCodeUrl({ scopes: SCOPES, state: 's', codeChallenge: 'c', nonce: 'n' }))).toBe('TENANT_NOT_FOUND');
    const nowhere = newAuth({ authorityHost: 'https://127.0.0.1:1', knownAuthorities: ['127.0.0.1:1'], httpTimeoutMs: 2000 });
    expect(await codeOf(nowhere.authCodeUrl({ scopes: SCOPES, state: 's', codeChallenge: 'c', nonce: 'n' }))).toBe('GRAPH_UNAVAILABLE');
  });
});

describe('redeemCode', () => {
  it('stores exactly the consenting user’s partition, keyed by home account id', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const account = await consent(megan.upn);
    expect(account).toMatchObject({
      oid: megan.oid,
      tid: sandbox.tenantId,
      upn: megan.upn,
      name: megan.displayName,
      homeAccountId: `${megan.oid}.${sandbox.tenantId}`,
    });
    expect(account.grantedScopes).toEqual(expect.arrayContaining(['User.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite', 'Tasks.ReadWrite']));
    expect(writes).toEqual([{ tenantId: sandbox.tenantId, key: account.homeAccountId }]);
    const stored = await store.getTokenCache(sandbox.tenantId, account.homeAccountId);
    expect(accountsIn(stored).map((a) => a.home_account_id)).toEqual([account.homeAccountId]);
  });

  it('keeps partial consent as granted', async () => {
    const account = await consent('grady.archie@contoso.com');
    expect(account.grantedScopes).toEqual(expect.arrayContaining(['Calendars.ReadWrite']));
    expect(account.grantedScopes).not.toContain('Mail.ReadWrite');
  });

  it('refuses another account than the signed-in one and stores nothing', async () => {
    const alex = userOf('alex.wilber@contoso.com');
    expect(await codeOf(consent(alex.upn, { expectedOid: userOf('megan.bowen@contoso.com').oid }))).toBe('ACCOUNT_MISMATCH');
    expect(writes).toEqual([]);
    expect(await store.getTokenCache(sandbox.tenantId, `${alex.oid}.${sandbox.tenantId}`)).toBeUndefined();
  });

  it('needs the nonce it sent: without it MSAL refuses the id_token (AUTH_STATE_INVALID), nothing stored', async () => {
    expect(await codeOf(consent('alex.wilber@contoso.com', { withNonce: false }))).toBe('AUTH_STATE_INVALID');
    expect(writes).toEqual([]);
  });

  it('a code can be redeemed once only', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const pkce = auth.makePkce();
    const nonce = 'n-once';
    const callback = await authorizeWithoutPages(
      await auth.authCodeUrl({ scopes: SCOPES, state: 's', codeChallenge: pkce.challenge, loginHint: megan.upn, nonce }),
    );
    const code = callback.searchParams.get('code')!;
    const req = { code, codeVerifier: pkce.verifier, scopes: SCOPES, tenantId: sandbox.tenantId, nonce, expectedOid: megan.oid };
    await auth.redeemCode(req);
    expect(await codeOf(auth.redeemCode(req))).toBe('AUTH_STATE_INVALID');
  });

  it('a browser sign-in redemption returns tokens and stores nothing', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const pkce = auth.makePkce();
    const nonce = 'n-signin';
    const callback = await authorizeWithoutPages(
      await auth.authCodeUrl({ scopes: ['User.Read'], state: 's', codeChallenge: pkce.challenge, loginHint: megan.upn, nonce }),
    );
    const signedIn = await auth.redeemForSignIn({ code: callback.searchParams.get('code')!, codeVerifier: pkce.verifier, scopes: ['User.Read'], nonce });
    expect(signedIn.oid).toBe(megan.oid);
    expect(decodeJwt(signedIn.accessToken).oid).toBe(megan.oid);
    expect(writes).toEqual([]);
  });
});

describe('acquireSilent', () => {
  it('serves the cached token without a network call or a write; forceRefresh redeems the refresh token', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const account = await consent(megan.upn);
    // The first call may look up the user's home tenant once (discovery is cached per tenant).
    await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES });
    writes = [];
    const before = sandbox.control.stats().entra.requests;
    const cached = await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES });
    expect(decodeJwt(cached.accessToken).oid).toBe(megan.oid);
    expect(cached.expiresOn.getTime()).toBeGreaterThan(Date.now());
    expect(sandbox.control.stats().entra.requests).toBe(before);
    expect(writes).toEqual([]);

    const refreshed = await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh: true });
    expect(sandbox.control.stats().entra.requests).toBe(before + 1);
    expect(refreshed.accessToken).not.toBe(cached.accessToken);
    expect(refreshed.grantedScopes).toEqual(expect.arrayContaining(['Mail.ReadWrite']));
    expect(writes).toEqual([{ tenantId: sandbox.tenantId, key: account.homeAccountId }]);
  });

  it('partitions never cross users', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const alex = userOf('alex.wilber@contoso.com');
    const a = await consent(megan.upn);
    const b = await consent(alex.upn);
    const ta = await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: a.homeAccountId, scopes: SCOPES, forceRefresh: true });
    const tb = await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: b.homeAccountId, scopes: SCOPES, forceRefresh: true });
    expect(decodeJwt(ta.accessToken).oid).toBe(megan.oid);
    expect(decodeJwt(tb.accessToken).oid).toBe(alex.oid);
    for (const key of [a.homeAccountId, b.homeAccountId]) {
      expect(accountsIn(await store.getTokenCache(sandbox.tenantId, key)).map((x) => x.home_account_id)).toEqual([key]);
    }
    // Another tenant's key space holds nothing of Contoso's.
    expect(await store.getTokenCache('2df7d45b-8f36-4ba1-b658-c800407568ea', a.homeAccountId)).toBeUndefined();
  });

  it('a partial grant is asked only for what it holds (no false USER_CONSENT_REQUIRED)', async () => {
    const account = await consent('grady.archie@contoso.com');
    for (const forceRefresh of [false, true]) {
      const t = await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh });
      expect(t.grantedScopes).toEqual(expect.arrayContaining(['Calendars.ReadWrite']));
      expect(t.grantedScopes).not.toContain('Mail.ReadWrite');
    }
  });

  it('concurrent refreshes for one user run one after another and all succeed', async () => {
    const account = await consent('megan.bowen@contoso.com');
    const req = { tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh: true };
    const tokens = await Promise.all(Array.from({ length: 5 }, () => auth.acquireSilent(req)));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(5);
    await expect(auth.acquireSilent(req)).resolves.toHaveProperty('accessToken');
  });

  it('a revoked grant is REFRESH_TOKEN_REVOKED on forceRefresh (AADSTS50173 and 700082)', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const account = await consent(megan.upn);
    sandbox.control.revokeRefreshTokens({ upn: megan.upn });
    const req = { tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES };
    // A cached access token still works: only redeeming the refresh token proves the grant.
    await expect(auth.acquireSilent(req)).resolves.toHaveProperty('accessToken');
    expect(await codeOf(auth.acquireSilent({ ...req, forceRefresh: true }))).toBe('REFRESH_TOKEN_REVOKED');

    const again = await consent(megan.upn);
    sandbox.control.revokeRefreshTokens({ upn: megan.upn, reason: 'expired' });
    expect(await codeOf(auth.acquireSilent({ ...req, homeAccountId: again.homeAccountId, forceRefresh: true }))).toBe('REFRESH_TOKEN_REVOKED');
  });

  it('Entra 5xx is GRAPH_UNAVAILABLE, never revoked, and the partition survives', async () => {
    const account = await consent('megan.bowen@contoso.com');
    const req = { tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh: true };
    sandbox.control.failures({ target: 'entra', status: 503, count: 1 });
    expect(await codeOf(auth.acquireSilent(req))).toBe('GRAPH_UNAVAILABLE');
    sandbox.control.failures({ target: 'entra', status: 500, count: 1 });
    expect(await codeOf(auth.acquireSilent(req))).toBe('GRAPH_UNAVAILABLE');
    await expect(auth.acquireSilent(req)).resolves.toHaveProperty('accessToken');
  });

  it('Entra 429 is THROTTLED', async () => {
    const account = await consent('megan.bowen@contoso.com');
    sandbox.control.throttle({ target: 'entra', count: 1, retryAfterSeconds: 1 });
    expect(await codeOf(auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh: true }))).toBe(
      'THROTTLED',
    );
  });

  it('a stuck authority times out as GRAPH_UNAVAILABLE', async () => {
    const quick = newAuth({ httpTimeoutMs: 300 });
    const account = await consent('megan.bowen@contoso.com', { via: quick });
    sandbox.control.hold({ target: 'entra' });
    try {
      expect(await codeOf(quick.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh: true }))).toBe(
        'GRAPH_UNAVAILABLE',
      );
    } finally {
      sandbox.control.release();
    }
  });

  it('MFA required by Conditional Access is MFA_OR_CONDITIONAL_ACCESS', async () => {
    const megan = userOf('megan.bowen@contoso.com');
    const account = await consent(megan.upn);
    sandbox.control.setConditionalAccess({ upn: megan.upn, policy: 'mfa' });
    expect(await codeOf(auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES, forceRefresh: true }))).toBe(
      'MFA_OR_CONDITIONAL_ACCESS',
    );
  });

  it('after removeUser there is nothing to refresh: REFRESH_TOKEN_REVOKED', async () => {
    const account = await consent('megan.bowen@contoso.com');
    expect(await auth.removeUser(sandbox.tenantId, account.homeAccountId)).toBe(true);
    expect(await store.getTokenCache(sandbox.tenantId, account.homeAccountId)).toBeUndefined();
    expect(await codeOf(auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes: SCOPES }))).toBe(
      'REFRESH_TOKEN_REVOKED',
    );
  });
});
