/**
 * The sandbox's state file: what a person did in the demo tenant survives a restart (refresh tokens,
 * grants, consent decisions, roles, secrets, mailbox facts, clock, signing key), a bad file is set
 * aside instead of crashing or being overwritten, and reset() resets the saved state too.
 * Every "restart" is a second sandbox on a fresh port reading the same file, driven through real MSAL.
 */
import { CryptoProvider, ServerError } from '@azure/msal-node';
import { promises as fs, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { loadContosoSeed, type Sandbox, type SandboxLogger } from '../../src/sandbox';
import { authorizeWithoutPages, graphClient, msalClient, PRODUCT_REDIRECT_URI, startTestSandbox } from '../helpers/sandbox';

const MEGAN = 'megan.bowen@contoso.com';
const ALEX = 'alex.wilber@contoso.com';
const LIDIA = 'lidia.holloway@contoso.com';
const ISAIAH = 'isaiah.langer@contoso.com';
const LEE = 'lee.gu@contoso.com';
const crypto = new CryptoProvider();

let dir: string;
let running: Sandbox[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cc-sandbox-persist-'));
});
afterEach(async () => {
  await Promise.all(running.map((s) => s.close()));
  running = [];
  await fs.rm(dir, { recursive: true, force: true });
});

interface Logged {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

function recordingLogger(into: Logged[]): SandboxLogger {
  const at = (level: string) => (obj: object, msg?: string) => into.push({ level, obj: obj as Record<string, unknown>, msg });
  return { debug() {}, info: at('info'), warn: at('warn'), error: at('error') };
}

async function start(stateFile: string, logs: Logged[] = [], extra: Parameters<typeof startTestSandbox>[0] = {}): Promise<Sandbox> {
  const sb = await startTestSandbox({ stateFile, logger: recordingLogger(logs), ...extra });
  running.push(sb);
  return sb;
}

/** Warnings other than "the previous run's port is taken" (another process may take a freed port). */
function warningsBesidesPorts(logs: Logged[]): Logged[] {
  return logs.filter((l) => l.level === 'warn' && !('previousPort' in l.obj));
}

async function stop(sb: Sandbox): Promise<void> {
  await sb.close();
  running = running.filter((s) => s !== sb);
}

/** A user's sign-in through MSAL's URL builder and the authorize endpoint (preset consent), then the code redeemed by MSAL. */
async function signInForRefreshToken(sb: Sandbox, upn: string): Promise<{ refreshToken: string; accessToken: string }> {
  const cca = msalClient(sb);
  const pkce = await crypto.generatePkceCodes();
  const scopes = ['User.Read', 'Calendars.ReadWrite', 'offline_access'];
  const url = await cca.getAuthCodeUrl({
    scopes,
    redirectUri: PRODUCT_REDIRECT_URI,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    loginHint: upn,
  });
  const back = await authorizeWithoutPages(url);
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code for ${upn}: ${back.searchParams.get('error_description')}`);
  const result = await cca.acquireTokenByCode({ code, scopes, redirectUri: PRODUCT_REDIRECT_URI, codeVerifier: pkce.verifier });
  // MSAL keeps the refresh token in its cache only; the product reads it the same way from its partition.
  const cache = JSON.parse(cca.getTokenCache().serialize()) as { RefreshToken: Record<string, { secret: string }> };
  const [rt] = Object.values(cache.RefreshToken);
  return { refreshToken: rt.secret, accessToken: result.accessToken };
}

function refresh(sb: Sandbox, refreshToken: string, scopes = ['User.Read']) {
  return msalClient(sb).acquireTokenByRefreshToken({ refreshToken, scopes });
}

async function aadstsOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ServerError) return Number(/AADSTS(\d+)/.exec(err.errorMessage)?.[1]);
    throw err;
  }
  throw new Error('expected the token request to fail');
}

async function appToken(sb: Sandbox, clientSecret?: string): Promise<string> {
  const sa = sb.seed.serviceAccount;
  const secret = clientSecret ?? sa.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!.value;
  const result = await msalClient(sb, { clientId: sa.clientId, clientSecret: secret }).acquireTokenByClientCredential({
    scopes: ['https://graph.microsoft.com/.default'],
  });
  return result!.accessToken;
}

async function jwks(sb: Sandbox): Promise<JSONWebKeySet> {
  return (await (await fetch(`${sb.authorityHost}/${sb.tenantId}/discovery/v2.0/keys`)).json()) as JSONWebKeySet;
}

async function authorizeOutcome(sb: Sandbox, upn: string): Promise<URL> {
  const url = await msalClient(sb).getAuthCodeUrl({ scopes: ['User.Read', 'Mail.ReadWrite'], redirectUri: PRODUCT_REDIRECT_URI, loginHint: upn });
  return authorizeWithoutPages(url);
}

/** Wait (without a deadline that matters) until the file on disk satisfies `ok`: the debounced save ran. */
async function waitForFile(file: string, ok: (text: string) => boolean): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (text && ok(text)) return text;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the state file never showed the change');
}

test('a restart keeps refresh tokens, grants, consent decisions, app roles and the signing key', async () => {
  const file = path.join(dir, 'nested', 'state.json');
  const a = await start(file);
  const megan = await signInForRefreshToken(a, MEGAN);
  a.control.setAppRoles({ roles: ['Mail.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite'] });
  a.control.setConsent({ upn: ALEX, decision: 'decline' });
  a.control.setConsent({ upn: LIDIA, decision: 'accept' });
  const kidBefore = (await jwks(a)).keys[0].kid;
  await stop(a);

  expect(statSync(file).mode & 0o777).toBe(0o600);
  const text = await fs.readFile(file, 'utf8');
  expect(JSON.parse(text)).toMatchObject({ format: 'connection-center/sandbox-state', version: 1 });
  // Only the token's hash is stored: the file cannot be used to redeem it.
  expect(text).not.toContain(megan.refreshToken);

  const logs: Logged[] = [];
  const b = await start(file, logs);
  expect(warningsBesidesPorts(logs)).toEqual([]);
  expect(logs.some((l) => l.msg === 'sandbox state restored')).toBe(true);
  // Back on the same address (the product's MSAL cache keys tokens by it), unless the port was taken meanwhile.
  if (!logs.some((l) => 'previousPort' in l.obj)) {
    expect(b.authorityHost).toBe(a.authorityHost);
    expect(b.pagesOrigin).toBe(a.pagesOrigin);
  }

  const refreshed = await refresh(b, megan.refreshToken, ['Calendars.ReadWrite']);
  expect(refreshed?.account?.username).toBe(MEGAN);
  // What Megan consented to in the first run is still granted.
  expect(String(decodeJwt(refreshed!.accessToken).scp).split(' ')).toContain('Calendars.ReadWrite');

  const keys = await jwks(b);
  expect(keys.keys.map((k) => k.kid)).toEqual([kidBefore]);
  // A token signed before the restart still verifies against the new JWKS.
  await expect(jwtVerify(megan.accessToken, createLocalJWKSet(keys), { algorithms: ['RS256'] })).resolves.toBeTruthy();

  expect(decodeJwt(await appToken(b)).roles).toEqual(['Mail.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite']);
  const alex = await authorizeOutcome(b, ALEX);
  expect(alex.searchParams.get('error')).toBe('access_denied');
  expect(alex.searchParams.get('error_description')).toMatch(/^AADSTS65004: /);
  // Lidia declines in the seed; the decision changed in the first run holds.
  expect((await authorizeOutcome(b, LIDIA)).searchParams.get('code')).toBeTruthy();
});

test('a revoked refresh token stays revoked after a restart, and other users are unaffected', async () => {
  const file = path.join(dir, 'state.json');
  const a = await start(file);
  const megan = await signInForRefreshToken(a, MEGAN);
  const lee = await signInForRefreshToken(a, LEE);
  a.control.revokeRefreshTokens({ upn: MEGAN });
  expect(await aadstsOf(refresh(a, megan.refreshToken))).toBe(50173);
  await stop(a);

  const b = await start(file);
  expect(await aadstsOf(refresh(b, megan.refreshToken))).toBe(50173);
  expect((await refresh(b, lee.refreshToken))?.account?.username).toBe(LEE);
});

test('secrets, mailbox facts, access policy, Conditional Access, the clock and Graph writes survive a restart', async () => {
  const file = path.join(dir, 'state.json');
  const a = await start(file);
  const added = a.control.addSecret({ displayName: 'made in run one' });
  a.control.setMailbox({ upn: LEE, mailbox: 'notRestEnabled' });
  a.control.setAccessPolicy({ upn: ALEX, inPolicy: false });
  a.control.setAccessPolicy({ upn: ISAIAH, inPolicy: true });
  a.control.setConditionalAccess({ upn: MEGAN, policy: 'mfa' });
  a.control.advanceClock({ seconds: 10 * 86_400 });
  a.control.setAppRoles({ roles: ['Mail.Read', 'Calendars.Read', 'Calendars.ReadWrite'] });
  const created = (await graphClient(a, await appToken(a))
    .api(`/users/${ISAIAH}/events`)
    .post({
      subject: 'Planned in run one',
      start: { dateTime: '2030-01-02T10:00:00', timeZone: 'UTC' },
      end: { dateTime: '2030-01-02T11:00:00', timeZone: 'UTC' },
    })) as {
    id: string;
  };
  await stop(a);

  const b = await start(file);
  const token = await appToken(b, added.value);
  const graph = graphClient(b, token);
  const events = (await graph.api(`/users/${ISAIAH}/events`).get()) as { value: { id: string; subject: string }[] };
  expect(events.value).toContainEqual(expect.objectContaining({ id: created.id, subject: 'Planned in run one' }));
  await expect(graph.api(`/users/${ALEX}/calendar`).get()).rejects.toMatchObject({ statusCode: 403, message: expect.stringContaining('[RAOP]') });
  await expect(graph.api(`/users/${LEE}/calendar`).get()).rejects.toMatchObject({ statusCode: 404, code: 'MailboxNotEnabledForRESTAPI' });

  const iat = Number(decodeJwt(await b.issueToken({ upn: MEGAN, audience: b.productApp.clientId })).iat);
  expect(iat).toBeGreaterThan(Date.now() / 1000 + 9 * 86_400);
  const obo = msalClient(b).acquireTokenOnBehalfOf({
    oboAssertion: await b.issueToken({ upn: MEGAN, audience: `api://localhost:3978/${b.productApp.clientId}` }),
    scopes: ['https://graph.microsoft.com/User.Read'],
  });
  await expect(obo).rejects.toMatchObject({ errorMessage: expect.stringMatching(/AADSTS50076/) });
});

test('changes are saved shortly after they happen, without waiting for close (a killed process keeps them)', async () => {
  const file = path.join(dir, 'state.json');
  const a = await start(file);
  const kid = String((await jwks(a)).keys[0].kid);
  // The first start saves its key at once, before any change.
  await waitForFile(file, (t) => t.includes(kid));
  const megan = await signInForRefreshToken(a, MEGAN);
  a.control.setAppRoles({ roles: ['Calendars.ReadWrite'] });
  const saved = await waitForFile(
    file,
    (t) => (JSON.parse(t) as { refreshTokens: unknown[] }).refreshTokens.length === 1 && t.includes('"Calendars.ReadWrite"'),
  );
  expect(statSync(file).mode & 0o777).toBe(0o600);

  // The first sandbox is still running: the copy is what a crash would leave behind.
  const copy = path.join(dir, 'copy.json');
  await fs.writeFile(copy, saved);
  const logs: Logged[] = [];
  const b = await start(copy, logs);
  // Its ports are still taken by the first one: any free ones, and a warning that says so.
  expect(b.authorityHost).not.toBe(a.authorityHost);
  expect(logs.filter((l) => l.level === 'warn').map((l) => l.obj.previousPort)).toEqual([
    Number(new URL(a.authorityHost).port),
    Number(new URL(a.pagesOrigin).port),
  ]);
  expect((await refresh(b, megan.refreshToken))?.account?.username).toBe(MEGAN);
  expect(decodeJwt(await appToken(b)).roles).toEqual(['Calendars.ReadWrite']);
  expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

describe('an unusable state file is set aside and the sandbox starts from the seed', () => {
  const valid = async () => {
    const file = path.join(dir, 'valid.json');
    const a = await start(file);
    a.control.setAppRoles({ roles: ['Mail.ReadWrite'] });
    await stop(a);
    return fs.readFile(file, 'utf8');
  };
  const differentSeed = { ...loadContosoSeed(), tenant: { ...loadContosoSeed().tenant, displayName: 'Contoso (edited)' } };
  const cases: { name: string; content: () => Promise<string>; reason: RegExp; options?: Parameters<typeof startTestSandbox>[0] }[] = [
    { name: 'not JSON', content: async () => '{"format": "connection-center/sandbox-', reason: /not valid JSON/ },
    { name: 'another kind of JSON', content: async () => JSON.stringify({ hello: 'world' }), reason: /not a sandbox state document/ },
    { name: 'a newer format version', content: async () => JSON.stringify({ ...JSON.parse(await valid()), version: 2 }), reason: /format version 2/ },
    {
      name: 'a broken field',
      content: async () => JSON.stringify({ ...JSON.parse(await valid()), clockOffsetMs: 'soon' }),
      reason: /invalid at clockOffsetMs/,
    },
    {
      name: 'a signing key that is not a private key',
      content: async () => (await valid()).replace(/"pkcs8": "[^"]+"/, '"pkcs8": "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n"'),
      reason: /./,
    },
    {
      name: 'a user the seed does not have',
      content: async () => (await valid()).replaceAll(sandboxOid(MEGAN), '00000000-0000-4000-8000-000000000001'),
      reason: /users of tenant .* do not match the seed/,
    },
    { name: 'a different seed', content: valid, reason: /different demo tenant seed/, options: { seed: differentSeed } },
  ];

  test.each(cases)('$name', async ({ content, reason, options }) => {
    const file = path.join(dir, 'state.json');
    const original = await content();
    await fs.writeFile(file, original);
    const logs: Logged[] = [];
    const b = await start(file, logs, options);

    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0].obj.reason)).toMatch(reason);
    const aside = String(warnings[0].obj.setAsideAs);
    expect(path.basename(aside)).toMatch(/^state\.json\.broken-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/);
    // Nothing is lost: the bad file is kept byte for byte, and no secret reaches the log.
    expect(await fs.readFile(aside, 'utf8')).toBe(original);
    expect(JSON.stringify(logs)).not.toContain('PRIVATE KEY');

    // The seed's roles, and a working sandbox that saves a fresh, loadable state.
    expect(decodeJwt(await appToken(b)).roles).toEqual(b.seed.serviceAccount.grantedRoles);
    await stop(b);
    const again: Logged[] = [];
    await start(file, again, options);
    expect(warningsBesidesPorts(again)).toEqual([]);
    expect(again.some((l) => l.msg === 'sandbox state restored')).toBe(true);
  });
});

function sandboxOid(upn: string): string {
  return loadContosoSeed().users.find((u) => u.upn === upn)!.oid;
}

test('reset() resets the saved state too (the signing key stays)', async () => {
  const file = path.join(dir, 'state.json');
  const a = await start(file);
  const megan = await signInForRefreshToken(a, MEGAN);
  a.control.setAppRoles({ roles: [] });
  a.control.setConsent({ upn: ALEX, decision: 'decline' });
  const kid = (await jwks(a)).keys[0].kid;
  a.control.reset();
  await stop(a);

  const b = await start(file);
  expect((await jwks(b)).keys[0].kid).toBe(kid);
  expect(decodeJwt(await appToken(b)).roles).toEqual(b.seed.serviceAccount.grantedRoles);
  expect((await authorizeOutcome(b, ALEX)).searchParams.get('code')).toBeTruthy();
  // The refresh token from before the reset is gone, as after a reset without a restart.
  expect(await aadstsOf(refresh(b, megan.refreshToken))).toBe(9002313);
});
