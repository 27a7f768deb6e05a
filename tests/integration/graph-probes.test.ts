/**
 * The Graph layer against the sandbox: the client factory (token only to the configured host,
 * RetryHandler on 429 bounded by Retry-After, timeouts), $batch with in-batch 429 re-sends, and the
 * delegated probes of "Test connection".
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../src/domain/errors';
import { FEATURES, delegatedScopesFor } from '../../src/domain/features';
import { createGraphClient, graphBatch, fromGraphFailure, type BatchRequestItem } from '../../src/graph/client';
import { runDelegatedProbes } from '../../src/graph/probes';
import { DelegatedAuth } from '../../src/identity/delegated-auth';
import { Keyring, openStore } from '../../src/store';
import type { Sandbox } from '../../src/sandbox';
import { authorizeWithoutPages, PRODUCT_REDIRECT_URI, startTestSandbox } from '../helpers/sandbox';

const GRAPH = 'https://graph.microsoft.com';
const ALL_SCOPES = 'User.Read Mail.ReadWrite Calendars.ReadWrite Tasks.ReadWrite';
const FAST = { retry: { maxRetries: 2, delaySeconds: 0, maxRetryAfterSeconds: 2 }, batch: { maxRounds: 3, maxRetryAfterSeconds: 2 } };
let sandbox: Sandbox;

const userToken = (upn: string, scp = ALL_SCOPES) => sandbox.issueToken({ upn, audience: GRAPH, scp });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return fromGraphFailure(err).code;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  sandbox = await startTestSandbox();
});
afterAll(async () => sandbox?.close());
beforeEach(() => sandbox.control.reset());

describe('createGraphClient', () => {
  it('sends the bearer token to a Graph endpoint with a port (customHosts without the port)', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: await userToken('megan.bowen@contoso.com') });
    const me = await client.api('/me').get();
    expect(me.userPrincipalName).toBe('megan.bowen@contoso.com');
  });

  it('asks the token provider per request and carries its catalogue code when it fails', async () => {
    let calls = 0;
    const token = await userToken('megan.bowen@contoso.com');
    const ok = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, getAccessToken: async () => (calls++, token) });
    await ok.api('/me').get();
    await ok.api('/me/calendar').get();
    expect(calls).toBe(2);
    const failing = createGraphClient({
      graphEndpoint: sandbox.graphEndpoint,
      getAccessToken: async () => Promise.reject(new AppError('REFRESH_TOKEN_REVOKED')),
    });
    expect(await codeOf(failing.api('/me').get())).toBe('REFRESH_TOKEN_REVOKED');
  });

  it('retries 429 after Retry-After (RetryHandler), then succeeds', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: await userToken('megan.bowen@contoso.com'), ...FAST });
    sandbox.control.throttle({ target: 'graph', count: 2, retryAfterSeconds: 0 });
    const before = sandbox.control.stats().graph.requests;
    await expect(client.api('/me/mailFolders/inbox').get()).resolves.toHaveProperty('displayName');
    expect(sandbox.control.stats().graph.requests - before).toBe(3);
  });

  it('gives up after the bounded retries, and at once on a Retry-After beyond the cap: THROTTLED', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: await userToken('megan.bowen@contoso.com'), ...FAST });
    sandbox.control.throttle({ target: 'graph', retryAfterSeconds: 0 });
    let before = sandbox.control.stats().graph.requests;
    expect(await codeOf(client.api('/me').get())).toBe('THROTTLED');
    expect(sandbox.control.stats().graph.requests - before).toBe(3);
    sandbox.control.throttle({ target: 'graph', retryAfterSeconds: 3600 });
    before = sandbox.control.stats().graph.requests;
    expect(await codeOf(client.api('/me').get())).toBe('THROTTLED');
    expect(sandbox.control.stats().graph.requests - before).toBe(1);
  });

  it('5xx without Retry-After is reported at once as GRAPH_UNAVAILABLE; a stuck Graph times out', async () => {
    const client = createGraphClient({
      graphEndpoint: sandbox.graphEndpoint,
      accessToken: await userToken('megan.bowen@contoso.com'),
      fetchTimeoutMs: 300,
      ...FAST,
    });
    sandbox.control.failures({ target: 'graph', status: 503 });
    const before = sandbox.control.stats().graph.requests;
    expect(await codeOf(client.api('/me').get())).toBe('GRAPH_UNAVAILABLE');
    expect(sandbox.control.stats().graph.requests - before).toBe(1);
    sandbox.control.clearFaults();
    sandbox.control.hold({ target: 'graph' });
    try {
      expect(await codeOf(client.api('/me/calendar').get())).toBe('GRAPH_UNAVAILABLE');
    } finally {
      sandbox.control.release();
    }
  });

  it('maps Graph errors to the catalogue', async () => {
    const grady = createGraphClient({
      graphEndpoint: sandbox.graphEndpoint,
      accessToken: await userToken('grady.archie@contoso.com', 'User.Read Calendars.ReadWrite'),
    });
    expect(await codeOf(grady.api('/me/mailFolders/inbox').get())).toBe('ACCESS_DENIED');
    const expired = createGraphClient({
      graphEndpoint: sandbox.graphEndpoint,
      accessToken: await sandbox.issueToken({ upn: 'megan.bowen@contoso.com', audience: GRAPH, expiresInSeconds: -3600 }),
    });
    expect(await codeOf(expired.api('/me').get())).toBe('INVALID_TOKEN');
  });
});

describe('graphBatch', () => {
  it('splits into batches of 20 and returns every answer in request order', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: await userToken('adele.vance@contoso.com'), ...FAST });
    sandbox.control.setConcurrencyRetryAfter({ seconds: 0 });
    const requests: BatchRequestItem[] = Array.from({ length: 45 }, (_, i) => ({ id: `r${i}`, url: i % 2 ? '/me' : '/organization' }));
    const before = sandbox.control.stats().graph;
    const answers = await graphBatch(client, requests, { ...FAST.batch, maxRounds: 10 });
    expect(answers.map((a) => a.id)).toEqual(requests.map((r) => r.id));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect((answers[1].body as { userPrincipalName: string }).userPrincipalName).toBe('adele.vance@contoso.com');
    // 45 items → at least 3 POSTs to $batch.
    expect(sandbox.control.stats().graph.requests - before.requests).toBeGreaterThanOrEqual(3);
  });

  it('re-sends the items that came back 429 inside the 200 (more than 4 at once on one mailbox)', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: await userToken('megan.bowen@contoso.com'), ...FAST });
    sandbox.control.setConcurrencyRetryAfter({ seconds: 0 });
    // Parallel items in one batch hit the mailbox concurrency limit; the sandbox holds them in flight.
    sandbox.control.setLatency({ ms: 20, target: 'graph' });
    const requests: BatchRequestItem[] = Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, url: '/me/events?$top=1' }));
    const answers = await graphBatch(client, requests, { maxRounds: 10, maxRetryAfterSeconds: 2 });
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(sandbox.control.stats().graph.concurrencyThrottled).toBeGreaterThan(0);
  });

  it('returns the 429s when they outlast the rounds; re-sends dependants that failed on a throttled item', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: await userToken('megan.bowen@contoso.com'), ...FAST });
    sandbox.control.throttle({ target: 'graph', retryAfterSeconds: 0 });
    const stuck = await graphBatch(client, [{ id: 'a', url: '/me' }], { maxRounds: 2 });
    expect(stuck[0].status).toBe(429);
    expect(sandbox.control.stats().graph.throttled).toBe(2);

    sandbox.control.reset();
    sandbox.control.throttle({ target: 'graph', count: 1, retryAfterSeconds: 0 });
    const chained = await graphBatch(
      client,
      [
        { id: 'first', url: '/me' },
        { id: 'second', url: '/me/calendar', dependsOn: ['first'] },
      ],
      { maxRounds: 3 },
    );
    expect(chained.map((a) => a.status)).toEqual([200, 200]);
  });

  it('refuses duplicate ids and forward dependencies', async () => {
    const client = createGraphClient({ graphEndpoint: sandbox.graphEndpoint, accessToken: 'x' });
    await expect(
      graphBatch(client, [
        { id: 'a', url: '/me' },
        { id: 'a', url: '/me' },
      ]),
    ).rejects.toThrow(/unique/);
    const many: BatchRequestItem[] = Array.from({ length: 21 }, (_, i) => ({ id: `i${i}`, url: '/me' }));
    many[0].dependsOn = ['i20'];
    await expect(graphBatch(client, many)).rejects.toThrow(/depends on i20/);
  });
});

describe('runDelegatedProbes', () => {
  it('all features work for a fully consented user', async () => {
    const r = await runDelegatedProbes({
      graphEndpoint: sandbox.graphEndpoint,
      accessToken: await userToken('adele.vance@contoso.com'),
      features: [...FEATURES],
      ...FAST,
    });
    expect(r.inconclusive).toBeUndefined();
    expect(r.probes.every((p) => p.ok)).toBe(true);
    expect(r.probes.map((p) => `${p.feature}:${p.probe}`)).toEqual([
      'profile:me',
      'emailSync:inbox',
      'calendarSync:calendar',
      'calendarSync:events',
      'calendarScheduling:calendar',
      'calendarScheduling:events',
      'calendarScheduling:inbox',
      'taskSync:todoLists',
    ]);
  });

  it('partial consent: mail and Calendar Scheduling denied, calendar fine', async () => {
    const r = await runDelegatedProbes({
      graphEndpoint: sandbox.graphEndpoint,
      accessToken: await userToken('grady.archie@contoso.com', 'User.Read Calendars.ReadWrite'),
      features: [...FEATURES],
      ...FAST,
    });
    const by = (f: string, p: string) => r.probes.find((x) => x.feature === f && x.probe === p)!;
    expect(by('emailSync', 'inbox')).toMatchObject({ ok: false, code: 'ACCESS_DENIED' });
    expect(by('emailSync', 'inbox').message).toContain('Mail.ReadWrite');
    expect(by('calendarSync', 'events').ok).toBe(true);
    expect(by('calendarScheduling', 'inbox').ok).toBe(false);
    expect(by('taskSync', 'todoLists')).toMatchObject({ ok: false, code: 'ACCESS_DENIED' });
    expect(r.inconclusive).toBeUndefined();
  });

  it('a mailbox not enabled for REST, and no mailbox at all', async () => {
    for (const upn of ['pradeep.gupta@contoso.com', 'johanna.lorenz@contoso.com']) {
      const r = await runDelegatedProbes({
        graphEndpoint: sandbox.graphEndpoint,
        accessToken: await userToken(upn),
        features: ['emailSync', 'calendarSync'],
        ...FAST,
      });
      expect(r.probes[0]).toMatchObject({ feature: 'profile', ok: true });
      expect(r.probes.filter((p) => p.feature !== 'profile').every((p) => p.code === 'MAILBOX_NOT_REST_ENABLED')).toBe(true);
    }
  });

  it('throttled or unavailable Graph makes the check inconclusive, never a broken grant', async () => {
    const token = await userToken('adele.vance@contoso.com');
    sandbox.control.throttle({ target: 'graph', retryAfterSeconds: 0 });
    const throttled = await runDelegatedProbes({ graphEndpoint: sandbox.graphEndpoint, accessToken: token, features: ['emailSync'], ...FAST });
    expect(throttled.inconclusive).toBe('THROTTLED');
    expect(throttled.probes.every((p) => p.code === 'THROTTLED')).toBe(true);

    sandbox.control.clearFaults();
    sandbox.control.failures({ target: 'graph', status: 502 });
    const down = await runDelegatedProbes({ graphEndpoint: sandbox.graphEndpoint, accessToken: token, features: ['emailSync'], ...FAST });
    expect(down.inconclusive).toBe('GRAPH_UNAVAILABLE');

    sandbox.control.clearFaults();
    sandbox.control.hold({ target: 'graph' });
    try {
      const stuck = await runDelegatedProbes({
        graphEndpoint: sandbox.graphEndpoint,
        accessToken: token,
        features: ['emailSync'],
        fetchTimeoutMs: 300,
        ...FAST,
      });
      expect(stuck.inconclusive).toBe('GRAPH_UNAVAILABLE');
    } finally {
      sandbox.control.release();
    }
  });

  it('end to end with a token from the real delegated flow', async () => {
    const store = await openStore('sqlite::memory:', new Keyring([{ id: 'k', key: randomBytes(32) }], 'k'));
    try {
      const auth = new DelegatedAuth({
        authorityHost: sandbox.authorityHost,
        tenantId: sandbox.tenantId,
        clientId: sandbox.productApp.clientId,
        clientSecret: sandbox.productApp.clientSecret,
        redirectUri: PRODUCT_REDIRECT_URI,
        knownAuthorities: [sandbox.knownAuthority],
        store,
      });
      const scopes = delegatedScopesFor(FEATURES);
      const pkce = auth.makePkce();
      const nonce = 'probe-nonce';
      const megan = sandbox.seed.users.find((u) => u.upn === 'megan.bowen@contoso.com')!;
      const cb = await authorizeWithoutPages(await auth.authCodeUrl({ scopes, state: 'st', codeChallenge: pkce.challenge, loginHint: megan.upn, nonce }));
      const account = await auth.redeemCode({
        code: cb.searchParams.get('code')!,
        codeVerifier: pkce.verifier,
        scopes,
        tenantId: sandbox.tenantId,
        nonce,
        expectedOid: megan.oid,
      });
      const token = await auth.acquireSilent({ tenantId: sandbox.tenantId, homeAccountId: account.homeAccountId, scopes, forceRefresh: true });
      const r = await runDelegatedProbes({ graphEndpoint: sandbox.graphEndpoint, accessToken: token.accessToken, features: [...FEATURES], ...FAST });
      expect(r.probes.every((p) => p.ok)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
