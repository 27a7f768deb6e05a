/**
 * Admin rights in the bot follow the tab's rule and stay fresh: the whole product (src/server.ts)
 * against the sandbox, the bot driven over HTTP with a fake Bot Connector. Admin answers and admin
 * cards go only to admins whom a verified token proved within ADMIN_PROOF_MAX_DAYS, found by
 * object id; ADMIN_UPNS counts for the bot exactly as for the tab.
 */
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import { startTestProduct, type TestProduct } from '../helpers/product';
import { ADMIN_OID, TENANT, USER_OID, cardAction, cardTexts, installation, message, testResult, type ActivityOptions } from '../helpers/bot-kit';
import { DAY_MS } from '../../src/domain/admin';

const ADMIN_UPN = 'adele.vance@contoso.com';
const ALEX_UPN = 'alex.wilber@contoso.com';

let connector: FakeConnector;
let p: TestProduct | undefined;
let clock: { t: number };

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(() => connector.close());
afterEach(async () => {
  await p?.close();
  p = undefined;
});

async function start(env: Record<string, string> = {}): Promise<TestProduct> {
  clock = { t: Date.parse('2026-11-26T10:00:00Z') };
  p = await startTestProduct({ env, now: () => new Date(clock.t) });
  return p;
}

async function post(activity: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${p!.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** What the bot answered in a conversation since `from`: card titles and texts. */
function answers(conversationId: string, from = 0): string[] {
  return connector.received
    .filter((r) => r.conversationId === conversationId)
    .slice(from)
    .filter((r) => r.activity.type === 'message')
    .map((r) => (r.activity.attachments?.length ? cardTexts(r.activity.attachments[0].content)[0] : r.activity.text));
}
const seen = (conversationId: string) => connector.received.filter((r) => r.conversationId === conversationId).length;

/** Sends a command and returns what came back to that conversation. */
async function say(text: string, who: ActivityOptions): Promise<string[]> {
  const mark = seen(who.conversationId!);
  expect((await post(message(text, who))).status).toBe(200);
  return answers(who.conversationId!, mark);
}

/** A verified SSO token reaching the API, as when the person opens the tab. */
async function openTab(upn: string, roles?: string[]): Promise<void> {
  const token = await p!.ssoToken(upn, roles ? { roles } : {});
  expect((await p!.call('GET', '/api/me/connection', { token })).status).toBe(200);
}

const STATUS = 'Connection Center status';
const REFUSED = /only for Connection Center administrators/;

test('an admin demoted in Entra (the role gone from a verified token) loses admin answers and admin cards at once', async () => {
  await start();
  const chat: ActivityOptions = { serviceUrl: connector.url, conversationId: 'a:adele-demoted', fromOid: ADMIN_OID };
  await openTab(ADMIN_UPN);
  expect((await post(installation(chat))).status).toBe(200);
  expect(await p!.store.getConversation(TENANT, 'a:adele-demoted')).toMatchObject({ subscribed: true });
  expect(await say('status', chat)).toEqual([STATUS]);
  // An alert queued while she was an admin.
  expect(await p!.bot.emitTestOutcome(TENANT, testResult('passed'), testResult('secret'))).toBe(1);

  await openTab(ADMIN_UPN, []);
  expect((await p!.store.getUser(TENANT, ADMIN_OID))?.adminProvenAt).toBeUndefined();

  for (const command of ['status', 'test', 'remind']) {
    const reply = await say(command, chat);
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatch(REFUSED);
  }
  const invoke = await post(cardAction('runTest', chat));
  expect(cardTexts(invoke.body.value)[0]).toBe('Only administrators can do this');

  // The card that waited in the outbox is dropped at delivery, and new alerts skip her chat.
  const before = seen('a:adele-demoted');
  expect(await p!.bot.notifier.drain()).toEqual({ sent: 0, retried: 0, failed: 1 });
  expect(await p!.bot.emitTestOutcome(TENANT, testResult('secret'), testResult('permissions'))).toBe(0);
  await p!.bot.notifier.drain();
  expect(seen('a:adele-demoted')).toBe(before);
});

test('an admin proven 8 days ago is asked to open the tab once; afterwards they are an admin again', async () => {
  await start();
  const chat: ActivityOptions = { serviceUrl: connector.url, conversationId: 'a:adele-stale', fromOid: ADMIN_OID };
  await openTab(ADMIN_UPN);
  expect((await post(installation(chat))).status).toBe(200);
  expect(await say('status', chat)).toEqual([STATUS]);

  clock.t += 8 * DAY_MS;
  for (const command of ['status', 'test', 'remind']) {
    const reply = await say(command, chat);
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatch(/open Connection Center once/);
    expect(reply[0]).toMatch(/https?:\/\/\S+\/tab\//);
  }
  const invoke = await post(cardAction('runTest', chat));
  expect(invoke.status).toBe(200);
  const card = invoke.body.value;
  expect(cardTexts(card)).toEqual(expect.arrayContaining(['Open Connection Center once', 'Open Connection Center']));
  // Admin cards skip the stale admin too.
  expect(await p!.bot.emitTestOutcome(TENANT, testResult('passed'), testResult('secret'))).toBe(0);

  await openTab(ADMIN_UPN);
  expect(await say('status', chat)).toEqual([STATUS]);
  expect(await p!.bot.emitTestOutcome(TENANT, testResult('secret'), testResult('permissions'))).toBe(1);
});

test('ADMIN_UPNS makes an admin for the bot exactly as for the tab, by object id', async () => {
  await start({ ADMIN_UPNS: ALEX_UPN });
  const chat: ActivityOptions = { serviceUrl: connector.url, conversationId: 'a:alex', fromOid: USER_OID };
  await openTab(ALEX_UPN);
  const me = await p!.call('GET', '/api/me', { token: await p!.ssoToken(ALEX_UPN) });
  expect(me.body.isAdmin).toBe(true);
  expect(await say('status', chat)).toEqual([STATUS]);

  // Another sender who only claims Alex's name in Teams is not Alex.
  const impostor: ActivityOptions = { serviceUrl: connector.url, conversationId: 'a:impostor', fromOid: 'e3a7c4a4-7392-491c-9aaf-47d3e80e1823' };
  const reply = await say('status', impostor);
  expect(reply[0]).toMatch(REFUSED);
});

test('without ADMIN_UPNS the same person is not an admin', async () => {
  await start();
  const chat: ActivityOptions = { serviceUrl: connector.url, conversationId: 'a:alex-plain', fromOid: USER_OID };
  await openTab(ALEX_UPN);
  expect((await say('status', chat))[0]).toMatch(REFUSED);
});
