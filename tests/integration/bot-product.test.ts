/**
 * The bot inside the whole product (src/server.ts) against the sandbox tenant: the admin service
 * emits every stored test outcome to the bot, including the test the bot's own `test` command
 * started. The conversation that asked gets its reply card and no alert on top; the other
 * subscribed conversations get the alert; a test from the tab alerts everyone.
 */
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import { startTestProduct, type TestProduct } from '../helpers/product';
import { ADMIN_OID, TENANT, cardProblems, cardTexts, installation, message, type ActivityOptions } from '../helpers/bot-kit';

const ALL_ROLES = ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite'];
const ALERTS = '19:alerts@thread.tacv2';

let p: TestProduct;
let connector: FakeConnector;
let admin: string;
let chat: ActivityOptions;
let channel: ActivityOptions;

async function post(activity: unknown): Promise<number> {
  const res = await fetch(`${p.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
  await res.text();
  return res.status;
}

/** The first text of each card the bot posted into a conversation, oldest first. */
function cardsIn(conversationId: string): string[] {
  return connector.received
    .filter((r) => r.conversationId === conversationId && r.activity.attachments?.length)
    .map((r) => cardTexts(r.activity.attachments[0].content)[0]);
}

beforeAll(async () => {
  p = await startTestProduct();
  connector = await startFakeConnector();
  admin = await p.ssoToken('adele.vance@contoso.com');
  // The seed grants read-only roles; start from a service account that works.
  p.sandbox.control.setAppRoles({ roles: ALL_ROLES });
  expect((await p.call('PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com'] } })).status).toBe(200);
  const saved = await p.call('PUT', '/api/admin/service-account', {
    token: admin,
    body: {
      tenant: 'contoso.com',
      clientId: '66193c42-2023-423c-acba-f7f851f7f085',
      clientSecret: 'demo-sync-2026-sandbox-only-value',
      testAccount: 'megan.bowen@contoso.com',
      outOfScopeAccount: 'isaiah.langer@contoso.com',
      features: ['emailSync', 'calendarSync'],
    },
  });
  expect(saved.status).toBe(200);

  chat = { serviceUrl: connector.url, conversationId: 'a:adele-chat', fromOid: ADMIN_OID };
  channel = { serviceUrl: connector.url, conversationId: ALERTS, conversationType: 'channel', fromOid: ADMIN_OID };
  expect(await post(installation(chat))).toBe(200);
  expect(await post(installation(channel))).toBe(200);
  expect(await post(message('subscribe here', channel))).toBe(200);
  expect((await p.store.listConversations(TENANT, { subscribed: true })).map((c) => c.conversationId).sort()).toEqual([ALERTS, 'a:adele-chat']);
});

afterAll(async () => {
  await p?.close();
  await connector?.close();
});

test('a first passing test from the tab tells nobody anything', async () => {
  const res = await p.call('POST', '/api/admin/service-account/test', { token: admin });
  expect(res.body.ok).toBe(true);
  expect(await p.store.listOutbox(TENANT)).toEqual([]);
});

test('"test" in the admin chat after a role was removed: the reply card there, the alert only in the channel', async () => {
  p.sandbox.control.setAppRoles({ roles: ['Mail.Read', 'Calendars.Read', 'Calendars.ReadWrite'] });
  const before = connector.received.filter((r) => r.conversationId === 'a:adele-chat').length;
  expect(await post(message('test', chat))).toBe(200);

  const reply = connector.received.filter((r) => r.conversationId === 'a:adele-chat').slice(before);
  expect(reply.map((r) => r.activity.type)).toEqual(['typing', 'message']);
  const card = reply[1].activity.attachments[0].content;
  expect(cardProblems(card)).toEqual([]);
  expect(cardTexts(card)).toEqual(expect.arrayContaining(['The service account is missing permissions', 'Missing: Mail.ReadWrite']));

  expect((await p.store.listOutbox(TENANT)).map((r) => [r.kind, r.conversationId])).toEqual([['permissions.missing', ALERTS]]);
  expect(await p.bot.notifier.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
  expect(cardsIn(ALERTS)).toEqual(['The service account is missing permissions']);
  // One card in the admin chat: the reply.
  expect(cardsIn('a:adele-chat')).toEqual(['The service account is missing permissions']);
});

test('the fix tested from the tab: every subscribed conversation hears it works again, the admin chat included', async () => {
  p.sandbox.control.setAppRoles({ roles: ALL_ROLES });
  const res = await p.call('POST', '/api/admin/service-account/test', { token: admin });
  expect(res.body.ok).toBe(true);
  expect(await p.bot.notifier.drain()).toEqual({ sent: 2, retried: 0, failed: 0 });
  expect(cardsIn(ALERTS)).toEqual(['The service account is missing permissions', 'The service account works again']);
  expect(cardsIn('a:adele-chat')).toEqual(['The service account is missing permissions', 'The service account works again']);
});
