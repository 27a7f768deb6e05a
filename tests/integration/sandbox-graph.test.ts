/**
 * The sandbox's Microsoft Graph through the real @microsoft/microsoft-graph-client (default
 * middleware, RetryHandler included) and plain fetch: permissions, access policy, mailbox states,
 * throttling, $batch, tenant isolation, and the control API over HTTP.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { BatchRequestContent, BatchResponseContent, GraphError } from '@microsoft/microsoft-graph-client';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { diagnoseGraphError } from '../../src/domain/diagnosis';
import type { Sandbox } from '../../src/sandbox';
import { graphClient, msalClient, startTestSandbox } from '../helpers/sandbox';

/** A response body; the assertions check it field by field. */

type Json = any;

let sb: Sandbox;
const ADELE = 'adele.vance@contoso.com';
const MEGAN = 'megan.bowen@contoso.com';
const ISAIAH = 'isaiah.langer@contoso.com';
const PRADEEP = 'pradeep.gupta@contoso.com';
const GRAPH = 'https://graph.microsoft.com';

beforeAll(async () => {
  sb = await startTestSandbox();
});
afterAll(async () => {
  await sb?.close();
});
beforeEach(() => sb.control.reset());

/** A fresh app-only token for the service account (fresh MSAL client: no token cache between tests). */
async function appToken(): Promise<string> {
  const secret = sb.seed.serviceAccount.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!;
  const cca: ConfidentialClientApplication = msalClient(sb, { clientId: sb.seed.serviceAccount.clientId, clientSecret: secret.value });
  const r = await cca.acquireTokenByClientCredential({ scopes: [`${GRAPH}/.default`] });
  return r!.accessToken;
}

const userToken = (upn: string, scp: string) => sb.issueToken({ upn, audience: GRAPH, scp, appId: sb.productApp.clientId });

async function graphFailure(p: Promise<unknown>): Promise<GraphError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphError);
  return err as GraphError;
}

async function raw(path: string, token: string, init: RequestInit = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${sb.graphEndpoint}/v1.0${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('delegated', () => {
  test('/me, own mailbox: calendar, events, inbox, messages, To Do lists', async () => {
    const g = graphClient(sb, await userToken(MEGAN, 'User.Read Mail.ReadWrite Calendars.ReadWrite Tasks.ReadWrite openid profile'));
    const me = await g.api('/me').get();
    expect(me).toMatchObject({ userPrincipalName: MEGAN, displayName: 'Megan Bowen', mail: MEGAN });
    const calendar = await g.api('/me/calendar').get();
    expect(calendar).toMatchObject({ isDefaultCalendar: true, name: 'Calendar' });
    // The health check's probe: $select keeps the answer to what was asked for, as Graph does.
    const { '@odata.context': context, ...selected } = await g.api('/me/calendar').select('id').get();
    expect(context).toEqual(expect.any(String));
    expect(selected).toEqual({ id: calendar.id });
    const events = await g.api('/me/events').top(2).get();
    expect(events.value).toHaveLength(2);
    expect(events.value[0]).toMatchObject({ subject: expect.any(String), start: { dateTime: expect.any(String), timeZone: 'UTC' } });
    const inbox = await g.api('/me/mailFolders/inbox').get();
    expect(inbox).toMatchObject({ displayName: 'Inbox', totalItemCount: sb.seed.mailboxContent.messages.length });
    const messages = await g.api('/me/mailFolders/inbox/messages').select('subject,from').get();
    expect(messages.value[0]).toEqual({ id: expect.any(String), subject: expect.any(String), from: expect.any(Object) });
    const lists = await g.api('/me/todo/lists').get();
    expect(lists.value.map((l: { wellknownListName: string }) => l.wellknownListName)).toContain('defaultList');
    const tasks = await g.api(`/me/todo/lists/${encodeURIComponent(lists.value[0].id)}/tasks`).get();
    expect(tasks.value.length).toBeGreaterThan(0);
    const calendars = await g.api('/me/calendars').get();
    expect(calendars.value.length).toBe(1 + sb.seed.mailboxContent.otherCalendars.length);
  });

  test('scopes are enforced: 403 ErrorAccessDenied without the scope; POST events needs Calendars.ReadWrite', async () => {
    const readOnly = graphClient(sb, await userToken(MEGAN, 'User.Read Calendars.Read'));
    await expect(readOnly.api('/me/events').get()).resolves.toHaveProperty('value');
    const denied = await graphFailure(readOnly.api('/me/messages').get());
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe('ErrorAccessDenied');
    expect(denied.message).toBe('Access is denied. Check credentials and try again.');
    expect(diagnoseGraphError({ status: denied.statusCode, code: denied.code ?? undefined, message: denied.message })).toBe('ACCESS_DENIED');
    const event = {
      subject: 'Planning',
      start: { dateTime: '2030-01-01T10:00:00', timeZone: 'UTC' },
      end: { dateTime: '2030-01-01T11:00:00', timeZone: 'UTC' },
    };
    expect((await graphFailure(readOnly.api('/me/events').post(event))).statusCode).toBe(403);
    const readWrite = graphClient(sb, await userToken(MEGAN, 'User.Read Calendars.ReadWrite'));
    const created = await readWrite.api('/me/events').post(event);
    expect(created).toMatchObject({ subject: 'Planning', organizer: { emailAddress: { address: MEGAN } } });
    const fetched = await readWrite.api(`/me/events/${encodeURIComponent(created.id)}`).get();
    expect(fetched.id).toBe(created.id);
    const invalid = await graphFailure(readWrite.api('/me/events').post({ subject: 'no times' }));
    expect(invalid.statusCode).toBe(400);
  });

  test('another user’s mailbox is denied to a delegated token; directory reads need directory scopes', async () => {
    const g = graphClient(sb, await userToken(MEGAN, 'User.Read Mail.ReadWrite'));
    expect((await graphFailure(g.api(`/users/${ADELE}/messages`).get())).code).toBe('ErrorAccessDenied');
    await expect(g.api(`/users/${MEGAN}`).get()).resolves.toMatchObject({ userPrincipalName: MEGAN });
    const other = await graphFailure(g.api(`/users/${ADELE}`).get());
    expect(other.statusCode).toBe(403);
    expect(other.code).toBe('Authorization_RequestDenied');
    const org = await g.api('/organization').get();
    expect(org.value[0]).toMatchObject({ id: sb.tenantId, displayName: 'Contoso' });
    expect(org.value[0].verifiedDomains.map((d: { name: string }) => d.name)).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);
    expect((await graphFailure(g.api('/domains').get())).statusCode).toBe(403);
    const admin = graphClient(sb, await userToken(ADELE, 'User.Read Directory.Read.All'));
    const domains = await admin.api('/domains').get();
    expect(domains.value.find((d: { id: string }) => d.id === 'fabrikam.example')).toMatchObject({ isVerified: false });
  });

  test('mailbox not enabled for REST (on-premises, unlicensed): 404 MailboxNotEnabledForRESTAPI', async () => {
    for (const upn of [PRADEEP, 'johanna.lorenz@contoso.com']) {
      const g = graphClient(sb, await userToken(upn, 'User.Read Mail.ReadWrite'));
      await expect(g.api('/me').get()).resolves.toMatchObject({ userPrincipalName: upn });
      const err = await graphFailure(g.api('/me/mailFolders/inbox').get());
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe('MailboxNotEnabledForRESTAPI');
      expect(diagnoseGraphError({ status: err.statusCode, code: err.code ?? undefined, message: err.message })).toBe('MAILBOX_NOT_REST_ENABLED');
    }
  });
});

describe('app-only (service account)', () => {
  test('roles enforced: reads allowed with Mail.Read/Calendars.Read, writes and users denied; /me is a 400', async () => {
    const g = graphClient(sb, await appToken());
    await expect(g.api(`/users/${MEGAN}/calendar`).get()).resolves.toMatchObject({ isDefaultCalendar: true });
    await expect(g.api(`/users/${MEGAN}/mailFolders/inbox/messages`).get()).resolves.toHaveProperty('value');
    const write = await graphFailure(
      g.api(`/users/${MEGAN}/events`).post({ subject: 'x', start: { dateTime: '2030-01-01T10:00:00' }, end: { dateTime: '2030-01-01T11:00:00' } }),
    );
    expect(write.statusCode).toBe(403);
    expect((await graphFailure(g.api(`/users/${MEGAN}/todo/lists`).get())).statusCode).toBe(403);
    expect((await graphFailure(g.api('/me').get())).statusCode).toBe(400);
    expect((await graphFailure(g.api(`/users/${MEGAN}`).get())).code).toBe('Authorization_RequestDenied');
    sb.control.setAppRoles({ roles: ['Mail.ReadWrite', 'Calendars.ReadWrite', 'User.Read.All'] });
    const g2 = graphClient(sb, await appToken());
    await expect(g2.api(`/users/${MEGAN}`).get()).resolves.toMatchObject({ userPrincipalName: MEGAN });
    await expect(
      g2.api(`/users/${MEGAN}/events`).post({ subject: 'x', start: { dateTime: '2030-01-01T10:00:00' }, end: { dateTime: '2030-01-01T11:00:00' } }),
    ).resolves.toHaveProperty('id');
  });

  test('mailbox outside the application access policy: 403 RAOP → ACCESS_POLICY_DENIED; control moves it inside', async () => {
    const g = graphClient(sb, await appToken());
    const err = await graphFailure(g.api(`/users/${ISAIAH}/calendar`).get());
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('ErrorAccessDenied');
    expect(err.message).toBe('Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.');
    expect(diagnoseGraphError({ status: err.statusCode, code: err.code ?? undefined, message: err.message })).toBe('ACCESS_POLICY_DENIED');
    sb.control.setAccessPolicy({ upn: ISAIAH, inPolicy: true });
    await expect(g.api(`/users/${ISAIAH}/calendar`).get()).resolves.toHaveProperty('id');
    // The policy applies to app-only access only: Isaiah reads his own mail.
    sb.control.setAccessPolicy({ upn: ISAIAH, inPolicy: false });
    await expect(
      graphClient(sb, await userToken(ISAIAH, 'Mail.ReadWrite'))
        .api('/me/messages')
        .get(),
    ).resolves.toHaveProperty('value');
  });

  test('unknown mailbox: 404 ErrorInvalidUser (TEST_ACCOUNT_NOT_FOUND); every error carries innerError ids', async () => {
    const token = await appToken();
    const res = await raw('/users/nobody@contoso.com/calendar', token, { headers: { 'client-request-id': '11111111-2222-3333-4444-555555555555' } });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({
      code: 'ErrorInvalidUser',
      innerError: {
        'request-id': expect.stringMatching(/^[0-9a-f-]{36}$/),
        'client-request-id': '11111111-2222-3333-4444-555555555555',
        date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/),
      },
    });
    expect(res.headers.get('request-id')).toBe(res.body.error.innerError['request-id']);
    expect(diagnoseGraphError({ status: res.status, code: res.body.error.code, message: res.body.error.message })).toBe('TEST_ACCOUNT_NOT_FOUND');
  });

  test('servicePrincipals(appId=…)/appRoleAssignments lists the granted Graph roles', async () => {
    const g = graphClient(sb, await userToken(ADELE, 'User.Read Directory.Read.All'));
    const res = await g.api(`/servicePrincipals(appId='${sb.seed.serviceAccount.clientId}')/appRoleAssignments`).get();
    expect(res.value.map((a: { appRoleId: string }) => a.appRoleId)).toEqual(['810c84a8-4a9e-49e6-bf7d-12d183f40d01', '798ee544-9d2d-430c-a058-570e29e34338']);
    expect(res.value[0]).toMatchObject({ principalType: 'ServicePrincipal', resourceDisplayName: 'Microsoft Graph' });
  });
});

describe('tokens at Graph', () => {
  test('missing, expired, wrong audience, foreign signer: 401 InvalidAuthenticationToken', async () => {
    const noToken = await fetch(`${sb.graphEndpoint}/v1.0/me`);
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await noToken.json()).error.code).toBe('InvalidAuthenticationToken');
    const expired = await sb.issueToken({ upn: MEGAN, audience: GRAPH, scp: 'User.Read', expiresInSeconds: -600 });
    expect((await raw('/me', expired)).body.error.message).toBe('Lifetime validation failed, the token is expired.');
    const sso = await sb.issueToken({ upn: MEGAN, audience: sb.productApp.clientId });
    expect((await raw('/me', sso)).body.error.message).toMatch(/Invalid audience/);
    const other = await startTestSandbox();
    try {
      const forged = await other.issueToken({ upn: MEGAN, audience: GRAPH, scp: 'User.Read' });
      const res = await raw('/me', forged);
      expect(res.status).toBe(401);
      expect(diagnoseGraphError({ status: res.status, code: res.body.error.code })).toBe('INVALID_TOKEN');
    } finally {
      await other.close();
    }
    expect((await raw('/me', 'not-a-jwt')).status).toBe(401);
  });

  test('advancing the sandbox clock expires access tokens at Graph', async () => {
    const token = await userToken(MEGAN, 'User.Read');
    expect((await raw('/me', token)).status).toBe(200);
    sb.control.advanceClock({ seconds: 2 * 3600 });
    expect((await raw('/me', token)).status).toBe(401);
  });

  test('a token accepted before meets the tenant as it is now: access policy, mailbox and user are checked again on every call', async () => {
    const app = await appToken();
    expect((await raw(`/users/${MEGAN}/calendar`, app)).status).toBe(200);
    sb.control.setAccessPolicy({ upn: MEGAN, inPolicy: false });
    expect((await raw(`/users/${MEGAN}/calendar`, app)).body.error.message).toMatch(/RAOP/);
    sb.control.setAccessPolicy({ upn: MEGAN, inPolicy: true });
    sb.control.setMailbox({ upn: MEGAN, mailbox: 'notRestEnabled' });
    expect((await raw(`/users/${MEGAN}/calendar`, app)).body.error.code).toBe('MailboxNotEnabledForRESTAPI');

    const [added] = sb.control.addUsers({ count: 1, prefix: 'gone' });
    const token = await userToken(added.upn, 'User.Read Calendars.Read');
    expect((await raw('/me/calendar', token)).status).toBe(200);
    sb.control.reset(); // the added user is no more
    const res = await raw('/me/calendar', token);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toBe('Access token validation failure. The user or service principal no longer exists.');
  });

  test('a forged copy of an accepted token (same header and signature, other claims) is refused', async () => {
    const token = await userToken(MEGAN, 'User.Read');
    expect((await raw('/me', token)).status).toBe(200);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, scp: 'User.Read Mail.ReadWrite' })).toString('base64url')}.${signature}`;
    const res = await raw('/me/messages', forged);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toBe('Access token validation failure. Invalid signature.');
  });

  test('tenant isolation: Fabrikam’s admin cannot reach Contoso users or mailboxes', async () => {
    const kim = sb.seed.otherTenants[0].users[0].upn;
    const g = graphClient(sb, await userToken(kim, 'User.Read Directory.Read.All Mail.ReadWrite'));
    expect((await g.api('/organization').get()).value[0].displayName).toBe('Fabrikam');
    expect((await graphFailure(g.api(`/users/${ADELE}`).get())).statusCode).toBe(404);
    expect((await graphFailure(g.api(`/users/${ADELE}/messages`).get())).statusCode).toBe(404);
    const users = await g.api('/users').get();
    expect(users.value.map((u: { userPrincipalName: string }) => u.userPrincipalName)).toEqual([kim]);
  });
});

describe('throttling and faults', () => {
  test('RetryHandler rides out a short 429 storm (Retry-After honoured) and the request succeeds', async () => {
    const g = graphClient(sb, await userToken(MEGAN, 'User.Read'));
    sb.control.throttle({ target: 'graph', count: 2, retryAfterSeconds: 0 });
    await expect(g.api('/me').get()).resolves.toMatchObject({ userPrincipalName: MEGAN });
    expect(sb.control.stats().graph.throttled).toBe(2);
    expect(sb.control.stats().graph.byStatus['429']).toBe(2);
  });

  test('a storm that lasts: the client gives up after its retries with 429 → THROTTLED', async () => {
    const g = graphClient(sb, await userToken(MEGAN, 'User.Read'));
    sb.control.throttle({ target: 'graph', retryAfterSeconds: 0 });
    const err = await graphFailure(g.api('/me').get());
    expect(err.statusCode).toBe(429);
    expect(diagnoseGraphError({ status: err.statusCode, code: err.code ?? undefined })).toBe('THROTTLED');
    expect(sb.control.stats().graph.throttled).toBe(4); // first try + the RetryHandler's 3 retries
    sb.control.clearFaults();
    await expect(g.api('/me').get()).resolves.toBeTruthy();
  });

  test('5xx: 500 is not retried by the client and reads as GRAPH_UNAVAILABLE', async () => {
    const g = graphClient(sb, await userToken(MEGAN, 'User.Read'));
    sb.control.failures({ target: 'graph', status: 500, count: 1 });
    const err = await graphFailure(g.api('/me').get());
    expect(err.statusCode).toBe(500);
    expect(diagnoseGraphError({ status: err.statusCode, code: err.code ?? undefined })).toBe('GRAPH_UNAVAILABLE');
    await expect(g.api('/me').get()).resolves.toBeTruthy();
  });

  test('more than 4 concurrent requests on one mailbox: 429 ApplicationThrottled with Retry-After', async () => {
    const token = await userToken(MEGAN, 'Mail.ReadWrite');
    sb.control.hold({ target: 'graph' });
    const held = Array.from({ length: 4 }, () => raw('/me/messages', token));
    // Deterministic: wait until the sandbox holds all four, then send the fifth.
    while (sb.control.inFlight({ upn: MEGAN }) < 4) await new Promise((r) => setTimeout(r, 5));
    const fifth = await raw('/me/messages', token);
    expect(fifth.status).toBe(429);
    expect(fifth.body.error.code).toBe('ApplicationThrottled');
    expect(fifth.headers.get('retry-after')).toBe('1');
    // Another mailbox is not affected by Megan's limit.
    const other = raw('/me/messages', await userToken(ADELE, 'Mail.ReadWrite'));
    while (sb.control.inFlight({ upn: ADELE }) < 1) await new Promise((r) => setTimeout(r, 5));
    sb.control.release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await other).status).toBe(200);
    expect(sb.control.inFlight({ upn: MEGAN })).toBe(0);
  });
});

describe('$batch', () => {
  test('per-item status through the Graph client’s batch helpers; dependsOn; 424 after a failed dependency', async () => {
    const token = await appToken();
    const g = graphClient(sb, token);
    const content = new BatchRequestContent([
      { id: '1', request: new Request(`${sb.graphEndpoint}/v1.0/users/${MEGAN}/calendar`, { method: 'GET' }) },
      { id: '2', request: new Request(`${sb.graphEndpoint}/v1.0/users/${ISAIAH}/calendar`, { method: 'GET' }) },
      { id: '3', request: new Request(`${sb.graphEndpoint}/v1.0/users/${PRADEEP}/mailFolders/inbox`, { method: 'GET' }) },
    ]);
    const body = await content.getContent();
    expect(body.requests[0].url).toMatch(/^\/v1\.0\/users\//);
    const response = new BatchResponseContent(await g.api('/$batch').post(body));
    expect(['1', '2', '3'].map((id) => response.getResponseById(id).status)).toEqual([200, 403, 404]);
    expect((await response.getResponseById('2').json()).error.message).toMatch(/RAOP/);
    expect((await response.getResponseById('3').json()).error.code).toBe('MailboxNotEnabledForRESTAPI');
    // Shapes the helper refuses to build, sent as JSON: each item waits only for its own dependency.
    const requests = [
      { id: 'a', method: 'GET', url: `/users/${MEGAN}/calendar` },
      { id: 'b', method: 'GET', url: `/users/${ISAIAH}/calendar` },
      { id: 'c', method: 'GET', url: `/users/${MEGAN}/events`, dependsOn: ['a'] },
      { id: 'd', method: 'GET', url: `/users/${ISAIAH}/events`, dependsOn: ['b'] },
    ];
    const res = await raw('/$batch', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }) });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.responses.map((r: { id: string; status: number }) => [r.id, r.status]));
    expect(byId).toEqual({ a: 200, b: 403, c: 200, d: 424 });
  });

  test('429s come back inside a 200 batch: 6 parallel requests on one mailbox, a storm hitting items', async () => {
    const token = await appToken();
    const requests = Array.from({ length: 6 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: `/users/${MEGAN}/messages` }));
    const res = await raw('/$batch', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }) });
    expect(res.status).toBe(200);
    const statuses = res.body.responses.map((r: { status: number }) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const throttled = res.body.responses.find((r: { status: number }) => r.status === 429);
    expect(throttled.headers['Retry-After']).toBe('1');
    expect(throttled.body.error.code).toBe('ApplicationThrottled');
    sb.control.throttle({ target: 'graph', count: 1, retryAfterSeconds: 3 });
    const stormed = await raw('/$batch', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: requests.slice(0, 2) }),
    });
    expect(stormed.status).toBe(200);
    expect(stormed.body.responses.map((r: { status: number }) => r.status)).toEqual([429, 200]);
  });

  test('more than 20 requests, bad payloads, unknown dependencies: 400 BadRequest', async () => {
    const token = await appToken();
    const post = (body: string) => raw('/$batch', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: `/users/${MEGAN}/calendar` }));
    const tooMany = await post(JSON.stringify({ requests: many }));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe('BadRequest');
    expect((await post('{"requests": [')).status).toBe(400);
    expect((await post(JSON.stringify({ requests: [{ id: '1', method: 'GET' }] }))).status).toBe(400);
    expect((await post(JSON.stringify({ requests: [{ id: '1', method: 'GET', url: '/me', dependsOn: ['9'] }] }))).status).toBe(400);
    expect(
      (
        await post(
          JSON.stringify({
            requests: [
              { id: '1', method: 'GET', url: '/me' },
              { id: '1', method: 'GET', url: '/me' },
            ],
          }),
        )
      ).status,
    ).toBe(400);
  });
});

describe('control API over HTTP (loopback only)', () => {
  test('POST /_control/<method> drives the same control; unknown methods and bad input are 4xx', async () => {
    const post = (name: string, body: unknown) =>
      fetch(`${sb.authorityHost}/_control/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('throttle', { target: 'graph', count: 1, retryAfterSeconds: 0 })).status).toBe(200);
    expect((await raw('/me', await userToken(MEGAN, 'User.Read'))).status).toBe(429);
    const stats = await (await fetch(`${sb.authorityHost}/_control/stats`)).json();
    expect(stats.result.graph.throttled).toBe(1);
    const added = await (await post('addSecret', { expiresInDays: 1 })).json();
    expect(added.result).toMatchObject({ id: expect.any(String), value: expect.stringContaining('~') });
    expect((await post('nope', {})).status).toBe(404);
    expect((await post('revokeRefreshTokens', { upn: 'nobody@contoso.com' })).status).toBe(400);
    expect((await post('setLatency', { ms: -1 })).status).toBe(400);
    const notJson = await fetch(`${sb.authorityHost}/_control/reset`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(notJson.status).toBe(415);
    expect((await post('reset', {})).status).toBe(200);
    expect((await raw('/me', await userToken(MEGAN, 'User.Read'))).status).toBe(200);
  });

  test('malformed Graph requests: bad JSON, wrong media type, unknown segment', async () => {
    const token = await userToken(MEGAN, 'Calendars.ReadWrite');
    expect((await raw('/me/events', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).status).toBe(400);
    expect((await raw('/me/events', token, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
    const unknown = await raw('/me/nothingHere', token);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain("Resource not found for the segment 'nothingHere'");
    expect((await fetch(`${sb.authorityHost}/nowhere`)).status).toBe(404);
  });

  test('a request target that is not a URL gets a 4xx and the sandbox keeps serving', async () => {
    const u = new URL(sb.authorityHost);
    const ca = readFileSync(process.env.NODE_EXTRA_CA_CERTS as string);
    for (const target of ['//%%', '*']) {
      const status = await new Promise<number>((resolve, reject) => {
        https
          .request({ host: u.hostname, port: u.port, path: target, ca }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject)
          .end();
      });
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
    expect((await fetch(`${sb.authorityHost}/${sb.tenantId}/v2.0/.well-known/openid-configuration`)).status).toBe(200);
  });
});
