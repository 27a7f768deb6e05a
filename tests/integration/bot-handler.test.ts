/**
 * The bot through HTTP, as Teams drives it: a restify server with createBot on 127.0.0.1:0, and a
 * fake Bot Connector (the activities' serviceUrl) that records every reply.
 */
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import {
  ADMIN_OID,
  USER_OID,
  TENANT,
  botAdded,
  botRemoved,
  cardAction,
  cardProblems,
  cardTexts,
  installation,
  message,
  startBotServer,
  testResult,
  type ActivityOptions,
  type BotServer,
} from '../helpers/bot-kit';

let connector: FakeConnector;
let srv: BotServer;
let admin: ActivityOptions;
let user: ActivityOptions;

beforeEach(async () => {
  connector = await startFakeConnector({
    members: {
      [`29:${ADMIN_OID}`]: { id: `29:${ADMIN_OID}`, aadObjectId: ADMIN_OID, userPrincipalName: 'Adele.Vance@contoso.com', name: 'Adele Vance' },
    },
  });
  srv = await startBotServer();
  admin = { serviceUrl: connector.url, conversationId: 'a:admin-chat', fromOid: ADMIN_OID };
  user = { serviceUrl: connector.url, conversationId: 'a:user-chat', fromOid: USER_OID };
});

afterEach(async () => {
  await srv.close();
  await connector.close();
});

/** Cards and texts the bot sent into a conversation, oldest first. */
function sentTo(conversationId: string) {
  return connector.received.filter((r) => r.conversationId === conversationId).map((r) => r.activity);
}
function lastCard(conversationId: string): Record<string, any> {
  const withCard = sentTo(conversationId).filter((a) => a.attachments?.length);
  const att = withCard[withCard.length - 1]?.attachments[0];
  expect(att?.contentType).toBe('application/vnd.microsoft.card.adaptive');
  return att.content;
}
function lastText(conversationId: string): string {
  const texts = sentTo(conversationId).filter((a) => typeof a.text === 'string');
  return texts[texts.length - 1]?.text;
}

describe('installation', () => {
  test('an admin installing in a personal chat is stored, subscribed and welcomed', async () => {
    expect((await srv.post(installation(admin))).status).toBe(200);
    expect((await srv.post(botAdded(admin))).status).toBe(200);
    const record = await srv.store.getConversation(TENANT, 'a:admin-chat');
    expect(record).toMatchObject({ scope: 'personal', subscribed: true, userOid: ADMIN_OID, userUpn: 'adele.vance@contoso.com' });
    expect((record!.reference as any).serviceUrl).toBe(connector.url);
    expect((record!.reference as any).conversation).toMatchObject({ id: 'a:admin-chat', tenantId: TENANT });

    const welcome = lastCard('a:admin-chat');
    expect(cardProblems(welcome)).toEqual([]);
    expect(cardTexts(welcome)).toEqual(expect.arrayContaining(['Welcome to Connection Center', 'status', 'test', 'remind', 'subscribe here']));
    // One welcome, though Teams sends both installationUpdate and conversationUpdate.
    expect(sentTo('a:admin-chat')).toHaveLength(1);
    expect((await srv.store.listAudit(TENANT)).map((a) => a.action)).toContain('bot.installed');
  });

  test('a user who is not an admin is stored for nudges but not subscribed, and sees only help', async () => {
    await srv.post(installation(user));
    await srv.post(botAdded(user));
    expect(await srv.store.getConversation(TENANT, 'a:user-chat')).toMatchObject({ subscribed: false, userOid: USER_OID });
    const texts = cardTexts(lastCard('a:user-chat'));
    expect(texts).toContain('help');
    expect(texts).not.toContain('remind');
  });

  test('uninstalling removes the conversation; an unsubscribed admin stays unsubscribed after reinstalling', async () => {
    await srv.post(installation(admin));
    await srv.post(message('unsubscribe', admin));
    expect((await srv.store.getConversation(TENANT, 'a:admin-chat'))?.subscribed).toBe(false);
    await srv.post(installation(admin, 'add'));
    expect((await srv.store.getConversation(TENANT, 'a:admin-chat'))?.subscribed).toBe(false);
    await srv.post(installation(admin, 'remove'));
    expect(await srv.store.getConversation(TENANT, 'a:admin-chat')).toBeUndefined();
    await srv.post(botAdded(admin));
    await srv.post(botRemoved(admin));
    expect(await srv.store.getConversation(TENANT, 'a:admin-chat')).toBeUndefined();
  });

  test('a team install is stored unsubscribed until an admin types "subscribe here" in a channel', async () => {
    const channel: ActivityOptions = { serviceUrl: connector.url, conversationId: '19:general@thread.tacv2', conversationType: 'channel', fromOid: ADMIN_OID };
    await srv.post(installation(channel));
    expect((await srv.store.getConversation(TENANT, '19:general@thread.tacv2'))?.subscribed).toBe(false);

    // A non-admin cannot subscribe the channel.
    await srv.post(
      message(
        '<at>Connection Center</at> subscribe here',
        { ...channel, fromOid: USER_OID, conversationId: '19:general@thread.tacv2;messageid=111' },
        { entities: [{ type: 'mention', mentioned: { id: '28:bot-id', name: 'Connection Center' }, text: '<at>Connection Center</at>' }] },
      ),
    );
    expect(lastText('19:general@thread.tacv2;messageid=111')).toMatch(/only for Connection Center administrators/);
    expect((await srv.store.getConversation(TENANT, '19:general@thread.tacv2'))?.subscribed).toBe(false);

    await srv.post(
      message(
        '<at>Connection Center</at> subscribe here',
        { ...channel, conversationId: '19:general@thread.tacv2;messageid=222' },
        { entities: [{ type: 'mention', mentioned: { id: '28:bot-id', name: 'Connection Center' }, text: '<at>Connection Center</at>' }] },
      ),
    );
    expect(lastText('19:general@thread.tacv2;messageid=222')).toMatch(/will be posted here/);
    const record = await srv.store.getConversation(TENANT, '19:general@thread.tacv2');
    expect(record).toMatchObject({ scope: 'team', subscribed: true });
    expect((record!.reference as any).conversation.id).toBe('19:general@thread.tacv2');
    expect((await srv.store.listAudit(TENANT)).map((a) => a.action)).toContain('bot.subscribed');
  });
});

describe('commands', () => {
  beforeEach(async () => {
    await srv.post(installation(admin));
    await srv.post(installation(user));
  });

  test('help, and anything unknown, answers with the help card', async () => {
    await srv.post(message('help', admin));
    expect(cardTexts(lastCard('a:admin-chat'))).toContain('Connection Center commands');
    await srv.post(message('make me a sandwich', admin));
    const card = lastCard('a:admin-chat');
    expect(cardProblems(card)).toEqual([]);
    expect(cardTexts(card)).toContain('I did not understand "make me a sandwich". Here is what I can do.');
    await srv.post(message('make me a *sandwich* [now](https://evil.example)', admin));
    expect(cardTexts(lastCard('a:admin-chat'))).toContain(
      'I did not understand "make me a \\*sandwich\\* \\[now\\](https://evil.example)". Here is what I can do.',
    );
  });

  test('status answers with the tenant summary card', async () => {
    await srv.post(message('status', admin));
    const card = lastCard('a:admin-chat');
    expect(cardProblems(card)).toEqual([]);
    expect(cardTexts(card)).toEqual(expect.arrayContaining(['Connection Center status', '13', '8', 'Exchange (EWS, Basic Auth)']));
  });

  test('test runs the service-account test as the admin and answers with its result card', async () => {
    await srv.post(message('test', admin));
    const sent = sentTo('a:admin-chat');
    expect(sent[0].type).toBe('typing');
    const card = lastCard('a:admin-chat');
    expect(cardProblems(card)).toEqual([]);
    expect(cardTexts(card)).toEqual(expect.arrayContaining(['The service account test failed', 'SECRET_ID_NOT_VALUE']));
    expect(srv.services.testsRun).toEqual([{ tenantId: TENANT, actor: ADMIN_OID }]);

    srv.services.nextTest = { notConfigured: true };
    await srv.post(message('test', admin));
    expect(cardTexts(lastCard('a:admin-chat'))).toContain('No service account is configured for this tenant.');
  });

  test('admin commands are politely refused to everyone else', async () => {
    for (const command of ['status', 'test', 'remind', 'subscribe here', 'unsubscribe']) {
      await srv.post(message(command, user));
      expect(lastText('a:user-chat')).toBe(
        `Sorry, "${command}" is only for Connection Center administrators. Ask a Global Administrator to assign you the ConnectionCenter.Admin app role in Entra ID (Enterprise applications → Connection Center → Users and groups). Type "help" to see what I can do for you.`,
      );
    }
    expect(srv.services.testsRun).toEqual([]);
  });

  test('remind queues nudges and says how many were queued and how many could not be reached', async () => {
    srv.services.nudge = [
      {
        tenantId: TENANT,
        upn: 'alex.wilber@contoso.com',
        oid: USER_OID,
        kind: 'ews-basic',
        state: 'connected',
        grantedScopes: [],
        createdAt: '',
        updatedAt: '',
      },
      { tenantId: TENANT, upn: 'lee.gu@contoso.com', kind: 'ews-basic', state: 'failing', grantedScopes: [], createdAt: '', updatedAt: '' },
    ];
    await srv.post(message('remind', admin));
    expect(lastText('a:admin-chat')).toBe(
      'Queued 1 reconnect reminder. 1 person could not be reached: they have not opened Connection Center in Teams yet, so I have no chat with them.',
    );
    const [nudge] = await srv.store.listOutbox(TENANT, 'pending');
    expect(nudge).toMatchObject({ kind: 'reconnect.nudge', conversationId: 'a:user-chat' });

    await srv.post(message('remind', admin));
    expect(lastText('a:admin-chat')).toBe(
      'No new reminders queued. 1 person was already reminded today. 1 person could not be reached: they have not opened Connection Center in Teams yet, so I have no chat with them.',
    );
    srv.services.nudge = srv.services.nudge.slice(1);
    await srv.post(message('remind', admin));
    expect(lastText('a:admin-chat')).toBe(
      'I could not remind anyone: 1 person still to move has not opened Connection Center in Teams yet, so I have no chat with them.',
    );
  });

  test('an Action.Submit fallback (older clients) runs the same command', async () => {
    await srv.post(message('', admin, { text: undefined, value: { verb: 'runTest' } }));
    expect(cardTexts(lastCard('a:admin-chat'))).toContain('The service account test failed');
    await srv.post(message('', admin, { text: undefined, value: { verb: 'selfDestruct' } }));
    expect(cardTexts(lastCard('a:admin-chat'))).toContain('This button is not supported');
  });

  test('a failing service answers with an error card and logs, without leaking the error', async () => {
    srv.services.summary = async () => {
      throw new Error('database password=hunter2 unreachable');
    };
    await srv.post(message('status', admin));
    const card = lastCard('a:admin-chat');
    expect(cardTexts(card)).toContain('Something went wrong on our side.');
    expect(JSON.stringify(card)).not.toContain('hunter2');
    const line = srv.logs.find((l) => l.includes('command failed'));
    expect(JSON.parse(line!).err).toMatchObject({ message: 'database password=[redacted] unreachable' });
    expect(srv.logs.join('')).not.toContain('hunter2');
  });
});

describe('card actions (Action.Execute)', () => {
  beforeEach(async () => {
    await srv.post(installation(admin));
  });

  test('"Run test again" runs the test and returns the new card in the invoke response', async () => {
    srv.services.nextTest = testResult('passed');
    const res = await srv.post(cardAction('runTest', admin));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardProblems(res.body.value)).toEqual([]);
    expect(cardTexts(res.body.value)).toContain('The service account test passed');

    srv.services.nextTest = testResult('permissions');
    const again = await srv.post(cardAction('runTest', admin));
    expect(cardTexts(again.body.value)).toContain('The service account is missing permissions');
    // The refreshed card replaces the old one: nothing else was posted to the chat.
    expect(sentTo('a:admin-chat')).toEqual([]);
  });

  test('"Remind them" answers with a message and leaves the card as it is', async () => {
    const res = await srv.post(cardAction('remind', admin));
    expect(res.body).toEqual({
      statusCode: 200,
      type: 'application/vnd.microsoft.activity.message',
      value: 'Nobody needs a reminder: no one is left on EWS Basic Auth or needs to reconnect.',
    });
  });

  test('an unknown verb, a missing value and a non-admin get an error card, not an exception', async () => {
    const unknown = await srv.post(cardAction('launchRockets', admin));
    expect(unknown.status).toBe(200);
    expect(cardTexts(unknown.body.value)).toContain('This button is not supported');
    expect(cardProblems(unknown.body.value)).toEqual([]);

    // The verb is the sender's text: shown as typed, not as a link.
    const hostile = await srv.post(cardAction('[go](https://evil.example)', admin));
    expect(cardTexts(hostile.body.value)).toContain(
      'This card asked for an action I do not know ("\\[go\\](https://evil.example)"). It may come from an older version of Connection Center.',
    );

    const bare = await srv.post({ ...cardAction('x', admin), value: undefined });
    expect(bare.status).toBe(200);
    expect(cardTexts(bare.body.value)).toContain('This button is not supported');

    const refused = await srv.post(cardAction('runTest', { ...admin, fromOid: USER_OID, conversationId: 'a:user-chat' }));
    expect(cardTexts(refused.body.value)).toEqual(expect.arrayContaining(['Only administrators can do this', 'Code: ADMIN_ROLE_REQUIRED']));
    expect(srv.services.testsRun).toEqual([]);
  });
});

describe('a test the asker started: one answer, no alert on top', () => {
  const alerts = '19:alerts@thread.tacv2';
  beforeEach(async () => {
    await srv.post(installation(admin));
    const channel: ActivityOptions = { serviceUrl: connector.url, conversationId: alerts, conversationType: 'channel', fromOid: ADMIN_OID };
    await srv.post(installation(channel));
    await srv.post(message('subscribe here', channel));
    expect((await srv.store.listConversations(TENANT, { subscribed: true })).map((c) => c.conversationId).sort()).toEqual([alerts, 'a:admin-chat']);
    // As the server does: every stored test of the saved configuration goes to emitTestOutcome.
    srv.services.emitOutcome = (tenantId, previous, current) => srv.bot.emitTestOutcome(tenantId, previous, current);
    srv.services.lastTest = testResult('passed', '2026-11-26T08:00:00.000Z');
  });

  const cardsIn = (conversationId: string) =>
    sentTo(conversationId)
      .filter((a) => a.attachments?.length)
      .map((a) => cardTexts(a.attachments[0].content)[0]);

  test('"test" with a changed verdict: the asker gets the reply card only; the other admin conversation gets the alert', async () => {
    const before = sentTo('a:admin-chat').length;
    srv.services.nextTest = testResult('secret');
    await srv.post(message('test', admin));
    expect((await srv.store.listOutbox(TENANT)).map((r) => [r.kind, r.conversationId])).toEqual([['test.failed', alerts]]);
    expect(await srv.bot.notifier.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });

    const toAsker = sentTo('a:admin-chat').slice(before);
    expect(toAsker.map((a) => a.type)).toEqual(['typing', 'message']);
    expect(cardTexts(toAsker[1].attachments[0].content)).toContain('The service account test failed');
    expect(cardsIn(alerts)).toEqual(['The service account test failed']);
  });

  test('"Run test again": the card is refreshed in place, and only the others are alerted', async () => {
    srv.services.lastTest = testResult('secret', '2026-11-26T08:00:00.000Z');
    srv.services.nextTest = testResult('passed');
    const res = await srv.post(cardAction('runTest', admin));
    expect(cardTexts(res.body.value)).toContain('The service account test passed');
    await srv.bot.notifier.drain();
    expect(sentTo('a:admin-chat')).toEqual([]);
    expect(cardsIn(alerts)).toEqual(['The service account works again']);
  });

  test('a test started elsewhere (the tab, the schedule) still alerts every subscribed conversation, the asker’s included', async () => {
    srv.services.nextTest = testResult('secret');
    await srv.post(message('test', admin));
    // The next test is the tab's: no conversation asked for it.
    expect(await srv.bot.emitTestOutcome(TENANT, testResult('secret'), testResult('permissions', '2026-11-26T11:00:00.000Z'))).toBe(2);
    await srv.bot.notifier.drain();
    expect(cardsIn('a:admin-chat')).toEqual(['The service account test failed', 'The service account is missing permissions']);
    expect(cardsIn(alerts)).toEqual(['The service account test failed', 'The service account is missing permissions']);
  });

  test('the same verdict again sends nothing anywhere; the asker still gets its reply', async () => {
    srv.services.lastTest = testResult('secret', '2026-11-26T08:00:00.000Z');
    srv.services.nextTest = testResult('secret');
    await srv.post(message('test', admin));
    expect(await srv.store.listOutbox(TENANT)).toEqual([]);
    expect(cardsIn('a:admin-chat')).toEqual(['The service account test failed']);
  });
});

describe('bad input', () => {
  test.each([
    ['an empty object', {}],
    ['an array', [1, 2]],
    ['a string', '"hello"'],
    ['no serviceUrl', { type: 'message', channelId: 'msteams', conversation: { id: 'x' } }],
    ['no conversation', { type: 'message', channelId: 'msteams', serviceUrl: 'http://127.0.0.1:1/' }],
    ['a non-http serviceUrl', { type: 'message', channelId: 'msteams', serviceUrl: 'file:///etc/passwd', conversation: { id: 'x' } }],
  ])('%s → 400 with the error envelope', async (_label, body) => {
    const res = await srv.post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    // …and the server still answers afterwards.
    expect((await srv.post(message('help', { serviceUrl: connector.url }))).status).toBe(200);
  });

  test('invalid JSON is refused by the body parser, and the bot keeps working', async () => {
    const res = await srv.post('{"type": "message",');
    expect(res.status).toBe(400);
    expect((await srv.post(message('help', { serviceUrl: connector.url }))).status).toBe(200);
  });

  test('without BOT_ID only a loopback serviceUrl is accepted', async () => {
    const res = await srv.post(message('help', { serviceUrl: 'https://smba.trafficmanager.net/emea/' }));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });

  test('an activity with no tenant gets an explanation, and nothing is stored', async () => {
    const a = message('status', admin) as any;
    delete a.conversation.tenantId;
    delete a.channelData;
    expect((await srv.post(a)).status).toBe(200);
    expect(lastText('a:admin-chat')).toMatch(/no Microsoft 365 tenant/);
    expect(await srv.store.listConversations(TENANT)).toEqual([]);
  });
});

describe('with BOT_ID', () => {
  test('an activity without a Bot Framework token is refused, and the password is never logged', async () => {
    const secured = await startBotServer({
      botId: '11111111-2222-3333-4444-555555555555',
      botPassword: 'S3cr3t~BotPassword-value',
      botTenantId: undefined,
    } as never);
    try {
      const res = await secured.post(message('help', { serviceUrl: 'https://smba.trafficmanager.net/emea/' }));
      expect(res.status).toBe(401);
      expect(connector.received).toEqual([]);
      expect(secured.logs.join('')).not.toContain('S3cr3t~BotPassword-value');
    } finally {
      await secured.close();
    }
  });
});
