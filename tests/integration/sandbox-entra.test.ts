/**
 * The sandbox's Entra ID through the real @azure/msal-node client (and plain fetch where MSAL hides
 * the wire): discovery, auth code + PKCE, refresh, on-behalf-of, client credentials, each AADSTS case.
 */
import { CryptoProvider, InteractionRequiredAuthError, ServerError, type AuthenticationResult } from '@azure/msal-node';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { diagnoseTokenError, aadstsNumber } from '../../src/domain/diagnosis';
import type { Sandbox } from '../../src/sandbox';
import { authorizeWithoutPages, msalClient, PRODUCT_REDIRECT_URI, startTestSandbox } from '../helpers/sandbox';

/** A response body; the assertions check it field by field. */

type Json = any;

let sb: Sandbox;
const crypto = new CryptoProvider();
const ADELE = 'adele.vance@contoso.com';
const MEGAN = 'megan.bowen@contoso.com';

beforeAll(async () => {
  sb = await startTestSandbox();
});
afterAll(async () => {
  await sb?.close();
});
beforeEach(() => sb.control.reset());

const serviceAccount = () => sb.seed.serviceAccount;
const validSecret = () => serviceAccount().secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!;
const expiredSecret = () => serviceAccount().secrets.find((s) => Date.parse(s.endDateTime) <= Date.now())!;

async function tokenRequest(
  tenant: string,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${sb.authorityHost}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: await res.json() };
}

function expectAadBody(body: Json, code: number, error: string): void {
  expect(body.error).toBe(error);
  expect(body.error_codes).toEqual([code]);
  expect(body.error_description).toMatch(
    new RegExp(`^AADSTS${code}: .+ Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`),
  );
  expect(body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
}

/** Sign in through the real MSAL URL builder and the sandbox's authorize endpoint (no pages). */
async function signIn(upn: string, scopes: string[], extra: Record<string, string> = {}) {
  const cca = msalClient(sb);
  const pkce = await crypto.generatePkceCodes();
  const url = await cca.getAuthCodeUrl({
    scopes,
    redirectUri: PRODUCT_REDIRECT_URI,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    loginHint: upn,
    state: 'state-123',
    nonce: 'nonce-456',
    extraQueryParameters: extra,
  });
  const back = await authorizeWithoutPages(url);
  return { cca, pkce, url, back };
}

async function redeem(s: Awaited<ReturnType<typeof signIn>>, scopes: string[]): Promise<AuthenticationResult> {
  const code = s.back.searchParams.get('code');
  expect(code).toBeTruthy();
  // MSAL 7 rejects an id token nonce it was not told to expect (nonce_mismatch).
  return s.cca.acquireTokenByCode({ code: code as string, scopes, redirectUri: PRODUCT_REDIRECT_URI, codeVerifier: s.pkce.verifier, nonce: 'nonce-456' });
}

describe('discovery', () => {
  test('openid-configuration by tenant id and by verified domain; authorize is served on the plain-HTTP pages origin', async () => {
    for (const tenant of [sb.tenantId, 'contoso.com', 'CONTOSO.onmicrosoft.com']) {
      const res = await fetch(`${sb.authorityHost}/${tenant}/v2.0/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, string>;
      expect(doc.issuer).toBe(`${sb.authorityHost}/${sb.tenantId}/v2.0`);
      expect(doc.token_endpoint).toBe(`${sb.authorityHost}/${sb.tenantId}/oauth2/v2.0/token`);
      expect(doc.jwks_uri).toBe(`${sb.authorityHost}/${sb.tenantId}/discovery/v2.0/keys`);
      expect(doc.authorization_endpoint).toBe(`${sb.pagesOrigin}/${sb.tenantId}/oauth2/v2.0/authorize`);
      expect(sb.pagesOrigin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  test('unknown tenant id, unknown or unverified domain: 400 invalid_tenant AADSTS90002; nonsense: AADSTS900023', async () => {
    for (const tenant of ['00000000-0000-0000-0000-000000000001', 'nowhere.example', 'fabrikam.example']) {
      const res = await fetch(`${sb.authorityHost}/${tenant}/v2.0/.well-known/openid-configuration`);
      expect(res.status).toBe(400);
      const body = await res.json();
      expectAadBody(body, 90002, 'invalid_tenant');
      expect(body.error_description).toContain(`Tenant '${tenant}' not found.`);
      expect(diagnoseTokenError({ aadsts: aadstsNumber({ errorCodes: body.error_codes }) })).toBe('TENANT_NOT_FOUND');
    }
    const res = await fetch(`${sb.authorityHost}/not%20a%20tenant/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(400);
    expectAadBody(await res.json(), 900023, 'invalid_request');
  });

  test('instance discovery answers for the sandbox host', async () => {
    const res = await fetch(
      `${sb.authorityHost}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${sb.authorityHost}/common/oauth2/v2.0/authorize`)}`,
    );
    const body = (await res.json()) as { metadata: { aliases: string[] }[] };
    expect(res.status).toBe(200);
    expect(body.metadata[0].aliases).toEqual([sb.knownAuthority]);
  });

  test('tokens verify against the JWKS with jose (RS256, kid, issuer, audience)', async () => {
    const token = await sb.issueToken({ upn: ADELE, audience: `api://localhost:3978/${sb.productApp.clientId}` });
    const jwks = createRemoteJWKSet(new URL(`${sb.authorityHost}/${sb.tenantId}/discovery/v2.0/keys`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: `${sb.authorityHost}/${sb.tenantId}/v2.0`,
      audience: `api://localhost:3978/${sb.productApp.clientId}`,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({
      tid: sb.tenantId,
      preferred_username: ADELE,
      scp: 'access_as_user',
      roles: ['ConnectionCenter.Admin'],
      idtyp: 'user',
      ver: '2.0',
    });
    const expired = await sb.issueToken({ upn: MEGAN, audience: sb.productApp.clientId, expiresInSeconds: -60 });
    await expect(jwtVerify(expired, jwks)).rejects.toThrow(/exp/);
  });
});

describe('authorization code with PKCE', () => {
  test('MSAL signs a user in: code → tokens, home account oid.tid, id token with nonce, Graph scopes', async () => {
    const s = await signIn(MEGAN, ['User.Read', 'Mail.ReadWrite', 'offline_access']);
    expect(s.url.startsWith(`${sb.pagesOrigin}/${sb.tenantId}/oauth2/v2.0/authorize?`)).toBe(true);
    expect(s.back.origin + s.back.pathname).toBe(PRODUCT_REDIRECT_URI);
    expect(s.back.searchParams.get('state')).toBe('state-123');
    const result = await redeem(s, ['User.Read', 'Mail.ReadWrite']);
    const megan = sb.seed.users.find((u) => u.upn === MEGAN)!;
    expect(result.account?.homeAccountId).toBe(`${megan.oid}.${sb.tenantId}`);
    expect(result.account?.username).toBe(MEGAN);
    expect(result.idTokenClaims).toMatchObject({ nonce: 'nonce-456', oid: megan.oid, tid: sb.tenantId, aud: sb.productApp.clientId });
    expect(result.scopes).toEqual(expect.arrayContaining(['User.Read', 'Mail.ReadWrite']));
    const at = decodeJwt(result.accessToken);
    expect(at).toMatchObject({ aud: 'https://graph.microsoft.com', azp: sb.productApp.clientId, oid: megan.oid, tid: sb.tenantId, idtyp: 'user' });
    expect(String(at.scp).split(' ')).toEqual(expect.arrayContaining(['User.Read', 'Mail.ReadWrite']));
  });

  test('a code is single use (AADSTS54005) and bound to redirect URI (AADSTS500112) and verifier (AADSTS501481)', async () => {
    const s = await signIn(ADELE, ['User.Read', 'offline_access']);
    const code = s.back.searchParams.get('code') as string;
    const base = { grant_type: 'authorization_code', client_id: sb.productApp.clientId, client_secret: sb.productApp.clientSecret, code, scope: 'User.Read' };
    const wrongVerifier = await tokenRequest(sb.tenantId, { ...base, redirect_uri: PRODUCT_REDIRECT_URI, code_verifier: 'x'.repeat(43) });
    expectAadBody(wrongVerifier.body, 501481, 'invalid_grant');
    const wrongRedirect = await tokenRequest(sb.tenantId, { ...base, redirect_uri: 'http://localhost:3978/elsewhere', code_verifier: s.pkce.verifier });
    expect(wrongRedirect.status).toBe(400);
    expect(wrongRedirect.body.error_codes).toEqual([500112]);
    const good = await tokenRequest(sb.tenantId, { ...base, redirect_uri: PRODUCT_REDIRECT_URI, code_verifier: s.pkce.verifier });
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number) });
    expect(good.body.refresh_token).toBeTruthy();
    const again = await tokenRequest(sb.tenantId, { ...base, redirect_uri: PRODUCT_REDIRECT_URI, code_verifier: s.pkce.verifier });
    expectAadBody(again.body, 54005, 'invalid_grant');
  });

  test('authorize refuses an unregistered redirect URI on a page, never redirecting to it', async () => {
    const url = `${sb.pagesOrigin}/${sb.tenantId}/oauth2/v2.0/authorize?client_id=${sb.productApp.clientId}&response_type=code&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&scope=User.Read&login_hint=${MEGAN}`;
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('AADSTS50011');
  });

  test('a product on another localhost port matches the registered loopback redirect URI (Entra ignores the port)', async () => {
    const cca = msalClient(sb);
    const redirectUri = 'http://localhost:54321/auth/callback';
    const url = await cca.getAuthCodeUrl({ scopes: ['User.Read'], redirectUri, loginHint: MEGAN });
    const back = await authorizeWithoutPages(url);
    expect(back.origin).toBe('http://localhost:54321');
    expect(back.searchParams.get('code')).toBeTruthy();
  });

  test('response_mode=form_post answers with an auto-submitting form carrying code and state', async () => {
    const s = await signIn(MEGAN, ['User.Read'], { response_mode: 'form_post' });
    expect(s.back.searchParams.get('state')).toBe('state-123');
    const result = await redeem(s, ['User.Read']);
    expect(result.account?.username).toBe(MEGAN);
  });

  test('decline: error=access_denied, error_subcode=cancel, AADSTS65004', async () => {
    const s = await signIn('lidia.holloway@contoso.com', ['User.Read', 'Mail.ReadWrite']);
    expect(s.back.searchParams.get('error')).toBe('access_denied');
    expect(s.back.searchParams.get('error_subcode')).toBe('cancel');
    expect(s.back.searchParams.get('error_description')).toMatch(/^AADSTS65004: /);
    expect(s.back.searchParams.get('state')).toBe('state-123');
    expect(s.back.searchParams.get('code')).toBeNull();
  });

  test('a user who may not consent: AADSTS90094 (admin approval required)', async () => {
    const s = await signIn('lynne.robbins@contoso.com', ['User.Read', 'Calendars.ReadWrite']);
    expect(s.back.searchParams.get('error')).toBe('access_denied');
    const description = s.back.searchParams.get('error_description') ?? '';
    expect(description).toMatch(/^AADSTS90094: /);
    expect(diagnoseTokenError({ aadsts: aadstsNumber({ text: description }) })).toBe('ADMIN_APPROVAL_REQUIRED');
  });

  test('partial consent: the token lacks the scope the user did not grant', async () => {
    const s = await signIn('grady.archie@contoso.com', ['User.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite', 'offline_access']);
    const result = await redeem(s, ['User.Read', 'Calendars.ReadWrite']);
    const scp = String(decodeJwt(result.accessToken).scp).split(' ');
    expect(scp).toEqual(expect.arrayContaining(['User.Read', 'Calendars.ReadWrite']));
    expect(scp).not.toContain('Mail.ReadWrite');
  });

  test('prompt=none: login_required without a hint, consent_required when consent is missing', async () => {
    const cca = msalClient(sb);
    const silentNoHint = new URL(await cca.getAuthCodeUrl({ scopes: ['User.Read'], redirectUri: PRODUCT_REDIRECT_URI, prompt: 'none' }));
    const back1 = await authorizeWithoutPages(silentNoHint.toString());
    expect(back1.searchParams.get('error')).toBe('login_required');
    const back2 = await authorizeWithoutPages(
      await cca.getAuthCodeUrl({ scopes: ['Mail.ReadWrite'], redirectUri: PRODUCT_REDIRECT_URI, prompt: 'none', loginHint: MEGAN }),
    );
    expect(back2.searchParams.get('error')).toBe('consent_required');
    expect(back2.searchParams.get('error_description')).toMatch(/^AADSTS65001: /);
    const back3 = await authorizeWithoutPages(
      await cca.getAuthCodeUrl({ scopes: ['Mail.ReadWrite'], redirectUri: PRODUCT_REDIRECT_URI, prompt: 'none', loginHint: ADELE }),
    );
    expect(back3.searchParams.get('code')).toBeTruthy();
  });

  test('a person: account picker, then consent page with Accept / Cancel, then back to the app', async () => {
    await sb.control.setConsent({ upn: MEGAN, decision: null });
    const url = await msalClient(sb).getAuthCodeUrl({ scopes: ['User.Read', 'Mail.ReadWrite'], redirectUri: PRODUCT_REDIRECT_URI, state: 's' });
    const picker = await fetch(url);
    const pickerHtml = await picker.text();
    expect(picker.status).toBe(200);
    expect(pickerHtml).toContain('Pick an account');
    for (const u of sb.seed.users) expect(pickerHtml).toContain(u.upn);
    const session = /name="session" value="([^"]+)"/.exec(pickerHtml)![1];
    const megan = sb.seed.users.find((u) => u.upn === MEGAN)!;
    const post = (path: string, form: Record<string, string>) =>
      fetch(`${sb.pagesOrigin}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
    const consent = await post('/_sandbox/signin', { session, user: megan.oid });
    const consentHtml = await consent.text();
    expect(consentHtml).toContain('Permissions requested');
    expect(consentHtml).toContain('Read and write access to your mail');
    expect(consentHtml).toMatch(/value="accept"[^>]*>Accept</);
    expect(consentHtml).toMatch(/value="cancel"[^>]*>Cancel</);
    const done = await post('/_sandbox/consent', { session, decision: 'accept' });
    expect(done.status).toBe(302);
    const back = new URL(done.headers.get('location') as string);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe('s');
    // The grant is remembered: the next silent sign-in needs no consent.
    const again = await authorizeWithoutPages(
      await msalClient(sb).getAuthCodeUrl({ scopes: ['Mail.ReadWrite'], redirectUri: PRODUCT_REDIRECT_URI, prompt: 'none', loginHint: MEGAN }),
    );
    expect(again.searchParams.get('code')).toBeTruthy();
    // A replayed form is refused: the session is single use.
    const replay = await post('/_sandbox/consent', { session, decision: 'accept' });
    expect(replay.status).toBe(400);
  });
});

describe('refresh tokens', () => {
  test('silent refresh rotates the refresh token; revocation gives AADSTS50173 → REFRESH_TOKEN_REVOKED', async () => {
    const s = await signIn(ADELE, ['User.Read', 'Mail.ReadWrite', 'offline_access']);
    const first = await redeem(s, ['User.Read', 'Mail.ReadWrite']);
    const refreshed = await s.cca.acquireTokenSilent({ account: first.account!, scopes: ['Mail.ReadWrite'], forceRefresh: true });
    expect(refreshed.fromCache).toBe(false);
    expect(refreshed.accessToken).not.toBe(first.accessToken);
    sb.control.revokeRefreshTokens({ upn: ADELE });
    const err = await s.cca.acquireTokenSilent({ account: first.account!, scopes: ['Mail.ReadWrite'], forceRefresh: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    const e = err as ServerError;
    expect(e.errorCode).toBe('invalid_grant');
    expect(String(e.errorNo)).toBe('50173');
    expect(diagnoseTokenError({ error: e.errorCode, aadsts: aadstsNumber({ errorNo: e.errorNo }), grant: 'refresh_token' })).toBe('REFRESH_TOKEN_REVOKED');
    // Signing in again works: only tokens issued before the revocation are dead.
    const s2 = await signIn(ADELE, ['User.Read', 'offline_access']);
    const second = await redeem(s2, ['User.Read']);
    await expect(s2.cca.acquireTokenSilent({ account: second.account!, scopes: ['User.Read'], forceRefresh: true })).resolves.toBeTruthy();
  });

  test('acquireTokenByRefreshToken; expired for inactivity: AADSTS700082', async () => {
    const s = await signIn(ADELE, ['User.Read', 'offline_access']);
    const code = s.back.searchParams.get('code') as string;
    const raw = await tokenRequest(sb.tenantId, {
      grant_type: 'authorization_code',
      client_id: sb.productApp.clientId,
      client_secret: sb.productApp.clientSecret,
      code,
      redirect_uri: PRODUCT_REDIRECT_URI,
      code_verifier: s.pkce.verifier,
    });
    const rt = raw.body.refresh_token as string;
    const byRt = await msalClient(sb).acquireTokenByRefreshToken({ refreshToken: rt, scopes: ['User.Read'] });
    expect(byRt?.account?.username).toBe(ADELE);
    sb.control.revokeRefreshTokens({ upn: ADELE, reason: 'expired' });
    const err = (await msalClient(sb)
      .acquireTokenByRefreshToken({ refreshToken: rt, scopes: ['User.Read'] })
      .catch((e: unknown) => e)) as ServerError;
    expect(String(err.errorNo)).toBe('700082');
  });

  test('the seeded user with revoked refresh tokens signs in fine but every refresh fails (AADSTS50173)', async () => {
    const s = await signIn('diego.siciliani@contoso.com', ['User.Read', 'Mail.ReadWrite', 'offline_access']);
    const result = await redeem(s, ['User.Read', 'Mail.ReadWrite']);
    const err = (await s.cca
      .acquireTokenSilent({ account: result.account!, scopes: ['Mail.ReadWrite'], forceRefresh: true })
      .catch((e: unknown) => e)) as ServerError;
    expect(String(err.errorNo)).toBe('50173');
    sb.control.setRefreshRevoked({ upn: 'diego.siciliani@contoso.com', revoked: false });
    await expect(s.cca.acquireTokenSilent({ account: result.account!, scopes: ['Mail.ReadWrite'], forceRefresh: true })).resolves.toBeTruthy();
  });

  test('a refresh asking for a scope never granted: AADSTS65001 consent_required (interaction required)', async () => {
    const s = await signIn('grady.archie@contoso.com', ['User.Read', 'Calendars.ReadWrite', 'offline_access']);
    const result = await redeem(s, ['User.Read']);
    const err = await s.cca.acquireTokenSilent({ account: result.account!, scopes: ['Mail.ReadWrite'], forceRefresh: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InteractionRequiredAuthError);
    expect((err as InteractionRequiredAuthError).subError).toBe('consent_required');
  });

  test('Conditional Access: MFA required (AADSTS50076) and blocked (AADSTS53003)', async () => {
    const s = await signIn(ADELE, ['User.Read', 'offline_access']);
    const result = await redeem(s, ['User.Read']);
    sb.control.setConditionalAccess({ upn: ADELE, policy: 'mfa' });
    const mfa = await s.cca.acquireTokenSilent({ account: result.account!, scopes: ['User.Read'], forceRefresh: true }).catch((e: unknown) => e);
    expect(mfa).toBeInstanceOf(InteractionRequiredAuthError);
    expect(String((mfa as InteractionRequiredAuthError).errorNo)).toBe('50076');
    sb.control.setConditionalAccess({ upn: ADELE, policy: 'blocked' });
    const blocked = (await s.cca
      .acquireTokenSilent({ account: result.account!, scopes: ['User.Read'], forceRefresh: true })
      .catch((e: unknown) => e)) as ServerError;
    expect(String(blocked.errorNo)).toBe('53003');
    const viaOboToken = await sb.issueToken({ upn: ADELE, audience: sb.productApp.clientId });
    const blockedObo = (await msalClient(sb)
      .acquireTokenOnBehalfOf({ oboAssertion: viaOboToken, scopes: ['User.Read'] })
      .catch((e: unknown) => e)) as ServerError;
    expect(String(blockedObo.errorNo)).toBe('53003');
    expect(diagnoseTokenError({ aadsts: Number(blockedObo.errorNo) })).toBe('MFA_OR_CONDITIONAL_ACCESS');
  });
});

describe('on-behalf-of', () => {
  test('exchanges the SSO token (App ID URI audience) for a Graph token for the same user', async () => {
    const sso = await sb.issueToken({ upn: ADELE, audience: `api://localhost:3978/${sb.productApp.clientId}` });
    const result = await msalClient(sb).acquireTokenOnBehalfOf({ oboAssertion: sso, scopes: ['https://graph.microsoft.com/Mail.ReadWrite'] });
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ aud: 'https://graph.microsoft.com', preferred_username: ADELE, azp: sb.productApp.clientId });
    expect(String(claims.scp).split(' ')).toContain('Mail.ReadWrite');
  });

  test('consent missing: 400 invalid_grant AADSTS65001 with suberror consent_required', async () => {
    const sso = await sb.issueToken({ upn: MEGAN, audience: sb.productApp.clientId });
    const err = await msalClient(sb)
      .acquireTokenOnBehalfOf({ oboAssertion: sso, scopes: ['https://graph.microsoft.com/Calendars.ReadWrite'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InteractionRequiredAuthError);
    expect((err as InteractionRequiredAuthError).subError).toBe('consent_required');
    expect(String((err as InteractionRequiredAuthError).errorNo)).toBe('65001');
    const raw = await tokenRequest(sb.tenantId, {
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      client_id: sb.productApp.clientId,
      client_secret: sb.productApp.clientSecret,
      assertion: sso,
      requested_token_use: 'on_behalf_of',
      scope: 'https://graph.microsoft.com/.default',
    });
    expectAadBody(raw.body, 65001, 'invalid_grant');
    expect(raw.body.suberror).toBe('consent_required');
  });

  test('assertion problems: expired (AADSTS500133), foreign audience (AADSTS500131), forged (AADSTS50013)', async () => {
    const form = (assertion: string) => ({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      client_id: sb.productApp.clientId,
      client_secret: sb.productApp.clientSecret,
      assertion,
      requested_token_use: 'on_behalf_of',
      scope: 'User.Read',
    });
    const expired = await tokenRequest(sb.tenantId, form(await sb.issueToken({ upn: ADELE, audience: sb.productApp.clientId, expiresInSeconds: -3600 })));
    expect(expired.body.error_codes).toEqual([500133]);
    const foreign = await tokenRequest(sb.tenantId, form(await sb.issueToken({ upn: ADELE, audience: 'api://someone-else' })));
    expect(foreign.body.error_codes).toEqual([500131]);
    const other = await startTestSandbox();
    try {
      const forged = await tokenRequest(sb.tenantId, form(await other.issueToken({ upn: ADELE, audience: sb.productApp.clientId })));
      expect(forged.body.error_codes).toEqual([50013]);
    } finally {
      await other.close();
    }
  });
});

describe('client credentials (the service account)', () => {
  const ccFor = (clientSecret: string, tenant?: string) => msalClient(sb, { clientId: serviceAccount().clientId, clientSecret, tenant });

  test('secret value: app-only token with the granted roles only', async () => {
    const result = await ccFor(validSecret().value).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ idtyp: 'app', tid: sb.tenantId, azp: serviceAccount().clientId, roles: ['Mail.Read', 'Calendars.Read'] });
    expect(claims.scp).toBeUndefined();
    sb.control.setAppRoles({ roles: [] });
    const none = await ccFor(validSecret().value, 'contoso.com').acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(decodeJwt(none!.accessToken).roles).toBeUndefined();
  });

  test('Secret ID instead of value: 401 invalid_client AADSTS7000215 with Microsoft’s wording', async () => {
    const err = (await ccFor(validSecret().id)
      .acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })
      .catch((e: unknown) => e)) as ServerError;
    expect(err).toBeInstanceOf(ServerError);
    expect(err.errorCode).toBe('invalid_client');
    expect(String(err.errorNo)).toBe('7000215');
    expect(diagnoseTokenError({ error: err.errorCode, aadsts: Number(err.errorNo) })).toBe('SECRET_ID_NOT_VALUE');
    const raw = await tokenRequest(sb.tenantId, {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      client_secret: validSecret().id,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(raw.status).toBe(401);
    expectAadBody(raw.body, 7000215, 'invalid_client');
    expect(raw.body.error_description).toContain(
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${serviceAccount().clientId}'.`,
    );
  });

  test('expired secret: AADSTS7000222; a new secret works; expiring it through control makes it fail', async () => {
    const err = (await ccFor(expiredSecret().value)
      .acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })
      .catch((e: unknown) => e)) as ServerError;
    expect(String(err.errorNo)).toBe('7000222');
    expect(diagnoseTokenError({ aadsts: Number(err.errorNo) })).toBe('SECRET_EXPIRED');
    const added = sb.control.addSecret({ expiresInDays: 30 });
    await expect(ccFor(added.value).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })).resolves.toBeTruthy();
    sb.control.expireSecret({ secretId: added.id });
    const raw = await tokenRequest(sb.tenantId, {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      client_secret: added.value,
      scope: 'https://graph.microsoft.com/.default',
    });
    expectAadBody(raw.body, 7000222, 'invalid_client');
  });

  test('unknown app or wrong tenant: 400 unauthorized_client AADSTS700016', async () => {
    const unknown = (await msalClient(sb, { clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 'whatever-secret' })
      .acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })
      .catch((e: unknown) => e)) as ServerError;
    expect(unknown.errorCode).toBe('unauthorized_client');
    expect(String(unknown.errorNo)).toBe('700016');
    const fabrikam = sb.seed.otherTenants[0].tenant.id;
    const wrongTenant = await tokenRequest(fabrikam, {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      client_secret: validSecret().value,
      scope: 'https://graph.microsoft.com/.default',
    });
    expectAadBody(wrongTenant.body, 700016, 'unauthorized_client');
    expect(wrongTenant.body.error_description).toContain("in the directory 'Fabrikam'");
  });

  test('unknown tenant: MSAL cannot resolve endpoints; the token endpoint says AADSTS90002', async () => {
    const err = (await ccFor(validSecret().value, '00000000-0000-0000-0000-00000000abcd')
      .acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })
      .catch((e: unknown) => e)) as { errorCode: string };
    expect(err.errorCode).toBe('endpoints_resolution_error');
    const raw = await tokenRequest('nowhere.example', {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      client_secret: validSecret().value,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(raw.status).toBe(400);
    expect(raw.body.error_codes).toEqual([90002]);
  });

  test('scope without /.default: invalid_scope AADSTS1002012', async () => {
    const raw = await tokenRequest(sb.tenantId, {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      client_secret: validSecret().value,
      scope: 'https://graph.microsoft.com/Mail.Read',
    });
    expectAadBody(raw.body, 1002012, 'invalid_scope');
  });

  test('client_secret_basic is accepted too', async () => {
    const basic = Buffer.from(`${serviceAccount().clientId}:${encodeURIComponent(validSecret().value)}`).toString('base64');
    const raw = await tokenRequest(
      sb.tenantId,
      { grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' },
      { authorization: `Basic ${basic}` },
    );
    expect(raw.status).toBe(200);
    expect(raw.body.access_token).toBeTruthy();
  });
});

describe('malformed requests get Entra’s error shapes', () => {
  test('missing grant_type, unsupported grant, JSON body, missing client secret, GET on the token endpoint', async () => {
    expectAadBody((await tokenRequest(sb.tenantId, { client_id: sb.productApp.clientId })).body, 900144, 'invalid_request');
    const unsupported = await tokenRequest(sb.tenantId, { grant_type: 'password', client_id: sb.productApp.clientId, username: 'a', password: 'b' });
    expectAadBody(unsupported.body, 70003, 'unsupported_grant_type');
    const json = await fetch(`${sb.authorityHost}/${sb.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(json.status).toBe(400);
    expect((await json.json()).error_codes).toEqual([900144]);
    const noSecret = await tokenRequest(sb.tenantId, {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(noSecret.status).toBe(401);
    expect(noSecret.body.error_codes).toEqual([7000218]);
    const get = await fetch(`${sb.authorityHost}/${sb.tenantId}/oauth2/v2.0/token`);
    expect(get.status).toBe(400);
    expect((await get.json()).error_codes).toEqual([900561]);
    const garbageCode = await tokenRequest(sb.tenantId, {
      grant_type: 'authorization_code',
      client_id: sb.productApp.clientId,
      client_secret: sb.productApp.clientSecret,
      code: 'nope',
      redirect_uri: PRODUCT_REDIRECT_URI,
    });
    expectAadBody(garbageCode.body, 9002313, 'invalid_grant');
    const huge = await tokenRequest(sb.tenantId, `grant_type=client_credentials&pad=${'a'.repeat(300 * 1024)}`);
    expect(huge.status).toBe(400);
  });

  test('Entra faults: a 5xx burst answers 503 temporarily_unavailable, MSAL works once it is over; a 429 storm is counted', async () => {
    sb.control.failures({ target: 'entra', count: 1, status: 503 });
    // Signing keys stay available, so SSO tokens can still be verified during an outage.
    expect((await fetch(`${sb.authorityHost}/${sb.tenantId}/discovery/v2.0/keys`)).status).toBe(200);
    const res = await fetch(`${sb.authorityHost}/${sb.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(503);
    expect((await res.json()).error).toBe('temporarily_unavailable');
    const ok = await msalClient(sb, { clientId: serviceAccount().clientId, clientSecret: validSecret().value }).acquireTokenByClientCredential({
      scopes: ['https://graph.microsoft.com/.default'],
    });
    expect(ok?.accessToken).toBeTruthy();
    sb.control.throttle({ target: 'entra', count: 1, retryAfterSeconds: 0 });
    const throttled = await tokenRequest(sb.tenantId, {
      grant_type: 'client_credentials',
      client_id: serviceAccount().clientId,
      client_secret: validSecret().value,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(throttled.status).toBe(429);
    expect(sb.control.stats().entra.throttled).toBe(1);
    expect(sb.control.stats().entra.failed).toBe(1);
  });
});
