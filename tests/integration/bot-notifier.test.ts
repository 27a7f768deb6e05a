/**
 * Proactive delivery through the real CloudAdapter (continueConversationAsync) to a fake Bot
 * Connector: the notifier, not the SDK, owns retries, so each failure is one request and one
 * outbox transition.
 */
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import {
  ADMIN_OID,
  TENANT,
  cardProblems,
  cardTexts,
  connection,
  installation,
  startBotServer,
  testResult,
  WallFloorClock,
  type BotServer,
} from '../helpers/bot-kit';

let connector: FakeConnector;
let srv: BotServer;
let clock: WallFloorClock;

beforeEach(async () => {
  connector = await startFakeConnector();
  clock = new WallFloorClock(Date.now() + 1000);
  srv = await startBotServer({ notifier: { clock, random: () => 0.5 } });
  await srv.post(installation({ serviceUrl: connector.url, conversationId: 'a:admin-chat', fromOid: ADMIN_OID }));
});

afterEach(async () => {
  await srv.close();
  await connector.close();
});

test('a changed test verdict reaches the subscribed admin chat as a new message with the card', async () => {
  expect(await srv.bot.emitTestOutcome(TENANT, testResult('passed'), testResult('secret'))).toBe(1);
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
  expect(connector.received).toHaveLength(1);
  const [got] = connector.received;
  expect(got.conversationId).toBe('a:admin-chat');
  const card = got.activity.attachments[0].content;
  expect(cardProblems(card)).toEqual([]);
  expect(cardTexts(card)).toContain('SECRET_ID_NOT_VALUE');
  expect((await srv.store.listOutbox(TENANT, 'sent')).map((r) => r.kind)).toEqual(['test.failed']);

  // Nothing is sent twice: a second drain, and a second emit of the same outcome, add nothing.
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
  expect(await srv.bot.emitTestOutcome(TENANT, testResult('passed'), testResult('secret'))).toBe(0);
  expect(connector.requests).toBe(1);
});

test('a nudge whose user reconnected while it waited is dropped at delivery, saying why; one still due is sent', async () => {
  const adminChat = (await srv.store.getConversation(TENANT, 'a:admin-chat'))!;
  for (const [id, upn] of [
    ['a:alex', 'alex.wilber@contoso.com'],
    ['a:lee', 'lee.gu@contoso.com'],
  ]) {
    await srv.store.putConversation({
      ...adminChat,
      conversationId: id,
      userOid: undefined,
      userUpn: upn,
      subscribed: false,
      reference: { ...adminChat.reference, conversation: { ...(adminChat.reference.conversation as object), id } },
    });
  }
  const lost = (upn: string) => connection(upn, 'graph-delegated', 'needs-reconnect', { error: { code: 'REFRESH_TOKEN_REVOKED', message: 'm' } });
  expect(await srv.bot.emitConnectionLost(TENANT, lost('alex.wilber@contoso.com'), 'run-1')).toBe(1);
  expect(await srv.bot.emitConnectionLost(TENANT, lost('lee.gu@contoso.com'), 'run-1')).toBe(1);
  // Before the notifier gets to them, Alex reconnects.
  srv.services.reconnected.add('alex.wilber@contoso.com');
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 1, retried: 0, failed: 1 });
  expect(connector.received.map((r) => r.conversationId)).toEqual(['a:lee']);
  expect(await srv.store.listOutbox(TENANT, 'failed')).toEqual([
    expect.objectContaining({
      kind: 'connection.lost',
      conversationId: 'a:alex',
      lastError: 'not needed any more: the user has reconnected',
    }),
  ]);
});

test.each([
  [429, { 'retry-after': '2' }, 2000],
  [502, {}, 500],
  [504, {}, 500],
  [412, {}, 500],
] as const)('a %i is one request, then a retry from the outbox (the SDK does not retry behind the notifier)', async (status, headers, minDelay) => {
  await srv.bot.emitTestOutcome(TENANT, undefined, testResult('secret'));
  connector.failNext({ status, headers });
  const t0 = clock.now();
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
  expect(connector.requests).toBe(1);
  const [pending] = await srv.store.listOutbox(TENANT, 'pending');
  expect(pending).toMatchObject({ attempts: 1, lastError: `HTTP ${status} Scripted` });
  expect(Date.parse(pending.nextAttemptAt) - t0).toBeGreaterThanOrEqual(minDelay);

  clock.t = Date.parse(pending.nextAttemptAt);
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
  expect(connector.requests).toBe(2);
  expect(connector.received).toHaveLength(1);
  expect((await srv.store.listOutbox(TENANT))[0]).toMatchObject({ status: 'sent', attempts: 2 });
});

test('a 403 (the user blocked the bot) fails without retrying; a removed conversation is not contacted', async () => {
  await srv.bot.emitTestOutcome(TENANT, undefined, testResult('secret'));
  connector.failNext({ status: 403 });
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 0, retried: 0, failed: 1 });
  expect(connector.requests).toBe(1);

  await srv.bot.emitTestOutcome(TENANT, testResult('secret'), testResult('permissions'));
  await srv.store.deleteConversation(TENANT, 'a:admin-chat');
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 0, retried: 0, failed: 1 });
  expect(connector.requests).toBe(1);
});

test('the daily check sends the deadline digest through the same path', async () => {
  await srv.store.putConnection({
    tenantId: TENANT,
    upn: 'megan.bowen@contoso.com',
    displayName: 'Megan Bowen',
    kind: 'ews-basic',
    state: 'connected',
    grantedScopes: [],
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
  });
  expect(await srv.bot.runDailyChecks(new Date('2026-12-30T08:00:00Z'))).toBe(1);
  await srv.bot.notifier.drain();
  const card = connector.received[0].activity.attachments[0].content;
  expect(cardTexts(card)).toEqual(
    expect.arrayContaining(['SMTP AUTH with Basic Authentication is turned off by default in 1 day', 'Megan Bowen — Exchange (EWS, Basic Auth), connected']),
  );
});

describe('a failed proactive send whose error carries a bearer token', () => {
  const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  const OPAQUE = 'opaque-Secret-0123456789abcdef';

  test.each(['product', 'bare'] as const)('is logged with its status and a scrubbed message, never the token (%s logger)', async (kind) => {
    const own = await startBotServer({ notifier: { clock, random: () => 0.5 }, logger: kind });
    try {
      await own.post(installation({ serviceUrl: connector.url, conversationId: 'a:admin-chat', fromOid: ADMIN_OID }));
      await own.bot.emitTestOutcome(TENANT, undefined, testResult('secret'));
      // A connector (or proxy) that echoes the request's credentials into its error.
      connector.failNext({
        status: 401,
        body: {
          error: {
            code: 'Unauthorized',
            message: `Authorization: Bearer ${TOKEN} was rejected; {"access_token":"${OPAQUE}"}`,
          },
        },
      });
      expect(await own.bot.notifier.drain()).toEqual({ sent: 0, retried: 0, failed: 1 });
      const log = own.logs.join('');
      const line = own.logs.find((l) => l.includes('giving up'));
      expect(line).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({
        status: 401,
        error: 'HTTP 401 Unauthorized',
        err: { message: expect.stringContaining('Bearer [redacted] was rejected') },
      });
      expect(log).not.toContain(TOKEN);
      expect(log).not.toContain(TOKEN.split('.')[1]);
      expect(log).not.toContain(OPAQUE);
      const [row] = await own.store.listOutbox(TENANT, 'failed');
      expect(JSON.stringify(row)).not.toContain(TOKEN.split('.')[1]);
    } finally {
      await own.close();
    }
  });
});
