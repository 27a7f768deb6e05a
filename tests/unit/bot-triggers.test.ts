import type { Store } from '../../src/store/types';
import { Triggers, reachedMilestone } from '../../bot/triggers';
import { tenantDeadlines } from '../../src/domain/deadlines';
import type { CardPayload } from '../../bot/payload';
import { buildCard, type CardName } from '../../bot/cards';
import {
  ADMIN_OID,
  captureLogger,
  cardProblems,
  cardTexts,
  connection,
  fakeServices,
  legacyUsers,
  openTestStore,
  PORTAL,
  TENANT,
  testResult,
  type FakeServices,
} from '../helpers/bot-kit';

let store: Store;
let services: FakeServices;
let triggers: Triggers;
let wakes: number;

async function conversation(
  conversationId: string,
  subscribed: boolean,
  extra: { scope?: 'personal' | 'team'; userOid?: string; userUpn?: string; tenantId?: string } = {},
) {
  await store.putConversation({
    tenantId: extra.tenantId ?? TENANT,
    conversationId,
    scope: extra.scope ?? 'personal',
    subscribed,
    ...(extra.userOid ? { userOid: extra.userOid } : {}),
    ...(extra.userUpn ? { userUpn: extra.userUpn } : {}),
    reference: { conversation: { id: conversationId } },
    updatedAt: new Date().toISOString(),
  });
}

async function outbox(kind?: string) {
  const rows = await store.listOutbox(TENANT);
  return kind ? rows.filter((r) => r.kind === kind) : rows;
}

function cardOf(row: { payload: Record<string, unknown> }) {
  const p = row.payload as unknown as CardPayload;
  return { name: p.card as CardName, card: buildCard(p.card, p.model as never) };
}

beforeEach(async () => {
  store = await openTestStore();
  await store.ensureTenant(TENANT, { displayName: 'Contoso' });
  services = fakeServices();
  wakes = 0;
  triggers = new Triggers({ store, services, logger: captureLogger().logger, onEnqueued: () => wakes++ });
  await conversation('admin-chat', true, { userOid: ADMIN_OID });
  await conversation('19:alerts@thread.tacv2', true, { scope: 'team' });
  await conversation('someone-else', false, { userOid: 'x' });
});
afterEach(() => store.close());

describe('emitTestOutcome', () => {
  test('tells every subscribed conversation once per verdict change, with the matching card', async () => {
    const failed = testResult('secret', '2026-11-26T09:00:00.000Z');
    expect(await triggers.emitTestOutcome(TENANT, undefined, failed)).toBe(2);
    const rows = await outbox('test.failed');
    expect(rows.map((r) => r.conversationId).sort()).toEqual(['19:alerts@thread.tacv2', 'admin-chat']);
    expect(wakes).toBe(1);
    const { name, card } = cardOf(rows[0]);
    expect(name).toBe('TestFailed');
    expect(cardProblems(card)).toEqual([]);
    expect(cardTexts(card)).toContain('SECRET_ID_NOT_VALUE');

    // Same verdict on the next run: nothing new to say.
    expect(await triggers.emitTestOutcome(TENANT, failed, testResult('secret', '2026-11-26T10:00:00.000Z'))).toBe(0);
    // The same call twice (a retry of the caller): deduplicated by the idempotency key.
    expect(await triggers.emitTestOutcome(TENANT, undefined, failed)).toBe(0);

    const missing = testResult('permissions', '2026-11-26T11:00:00.000Z');
    expect(await triggers.emitTestOutcome(TENANT, failed, missing)).toBe(2);
    const [perm] = await outbox('permissions.missing');
    const pm = cardOf(perm);
    expect(pm.name).toBe('PermissionsMissing');
    expect((pm.card.actions as any[]).map((a) => a.url).filter(Boolean)).toEqual([PORTAL.apiPermissionsUrl, PORTAL.adminConsentUrl]);

    const passed = testResult('passed', '2026-11-26T12:00:00.000Z');
    expect(await triggers.emitTestOutcome(TENANT, missing, passed)).toBe(2);
    const [back] = await outbox('test.passed');
    expect(cardTexts(cardOf(back).card)).toContain('The service account works again');
    expect(await triggers.emitTestOutcome(TENANT, passed, testResult('passed', '2026-11-26T13:00:00.000Z'))).toBe(0);
  });

  test('a first test that passes, or a tenant with no subscribed conversation, queues nothing', async () => {
    expect(await triggers.emitTestOutcome(TENANT, undefined, testResult('passed'))).toBe(0);
    expect(await triggers.emitTestOutcome('another-tenant', undefined, testResult('secret'))).toBe(0);
    expect(await outbox()).toEqual([]);
  });

  test('a test a conversation asked for skips that conversation (its reply is the answer); everyone else still hears', async () => {
    const failed = testResult('secret', '2026-11-26T09:00:00.000Z');
    let finish!: () => void;
    const running = new Promise<void>((resolve) => (finish = resolve));
    const asked = triggers.answering(TENANT, 'admin-chat', async () => {
      await running;
      return triggers.emitTestOutcome(TENANT, undefined, failed);
    });
    // Meanwhile a test started elsewhere (the tab, the schedule) ends: the asker hears of that one.
    expect(await triggers.emitTestOutcome(TENANT, failed, testResult('permissions', '2026-11-26T09:00:01.000Z'))).toBe(2);
    finish();
    expect(await asked).toBe(1);
    expect((await outbox('test.failed')).map((r) => r.conversationId)).toEqual(['19:alerts@thread.tacv2']);
    expect((await outbox('permissions.missing')).map((r) => r.conversationId).sort()).toEqual(['19:alerts@thread.tacv2', 'admin-chat']);

    // Only that tenant's conversation of that id, and only while the asked-for test runs.
    await conversation('admin-chat', true, { tenantId: 'other-tenant', userOid: ADMIN_OID });
    await triggers.answering(TENANT, 'admin-chat', () => triggers.emitTestOutcome('other-tenant', undefined, failed));
    expect((await store.listOutbox('other-tenant')).map((r) => r.conversationId)).toEqual(['admin-chat']);
    expect(
      await triggers.emitTestOutcome(TENANT, testResult('permissions', '2026-11-26T09:00:01.000Z'), testResult('passed', '2026-11-26T10:00:00.000Z')),
    ).toBe(2);
  });

  test('the asking conversation alone subscribed: nothing is queued, and what the test returns comes back', async () => {
    await store.deleteConversation(TENANT, '19:alerts@thread.tacv2');
    const result = await triggers.answering(TENANT, 'admin-chat', async () => {
      expect(await triggers.emitTestOutcome(TENANT, undefined, testResult('secret'))).toBe(0);
      return 'the test result';
    });
    expect(result).toBe('the test result');
    expect(await outbox()).toEqual([]);
  });

  test('different missing roles are a different verdict', async () => {
    const consent = testResult('consent', '2026-11-26T09:00:00.000Z');
    const partial = testResult('permissions', '2026-11-26T10:00:00.000Z');
    expect(await triggers.emitTestOutcome(TENANT, undefined, consent)).toBe(2);
    expect(await triggers.emitTestOutcome(TENANT, consent, partial)).toBe(2);
  });
});

describe('runDailyChecks', () => {
  beforeEach(async () => {
    for (const c of legacyUsers(14)) await store.putConnection(c);
    await store.putConnection(connection('gone@contoso.com', 'ews-basic', 'disconnected'));
    await store.putConnection(connection('ok@contoso.com', 'graph-delegated', 'connected'));
  });

  test('sends a digest at each milestone before a deadline that still affects someone, once', async () => {
    // 2026-12-01: SMTP AUTH (2026-12-31) is 30 days away; EWS removal 121 days.
    expect(await triggers.runDailyChecks(new Date('2026-12-01T06:00:00Z'))).toBe(2);
    const rows = await outbox('deadline.approaching');
    expect(rows).toHaveLength(2);
    expect(rows[0].idempotencyKey).toBe(`${TENANT}|deadline.approaching|smtp-auth-basic-disabled@2026-12-31|30|${rows[0].conversationId}`);
    const { name, card } = cardOf(rows[0]);
    expect(name).toBe('DeadlineDigest');
    expect(cardProblems(card)).toEqual([]);
    const texts = cardTexts(card);
    // ews-basic only (SMTP AUTH does not break ews-oauth); the disconnected one does not count.
    const basic = legacyUsers(14).filter((u) => u.kind === 'ews-basic');
    expect(texts).toContain(String(basic.length));
    expect(texts.join('\n')).toContain('in 30 days');
    expect(texts.join('\n')).not.toContain('gone@contoso.com');

    expect(await triggers.runDailyChecks(new Date('2026-12-01T18:00:00Z'))).toBe(0);
    expect(await triggers.runDailyChecks(new Date('2026-12-02T06:00:00Z'))).toBe(0);
    expect(await triggers.runDailyChecks(new Date('2026-12-17T06:00:00Z'))).toBe(2);
    expect((await outbox('deadline.approaching')).map((r) => r.idempotencyKey.split('|')[3])).toEqual(['30', '30', '14', '14']);
  });

  test('a server that was down on the exact day still sends that milestone, late and once', async () => {
    // 35 days before the SMTP AUTH date: the 60-day milestone was missed.
    expect(await triggers.runDailyChecks(new Date('2026-11-26T06:00:00Z'))).toBe(2);
    expect((await outbox()).every((r) => r.idempotencyKey.includes('|60|'))).toBe(true);
  });

  test('counts EWS removal for ews-basic and ews-oauth alike, and names the first users', async () => {
    // 2027-01-01: 90 days before 2027-04-01.
    await triggers.runDailyChecks(new Date('2027-01-01T06:00:00Z'));
    const [row] = (await outbox('deadline.approaching')).filter((r) => r.idempotencyKey.includes('ews-removed'));
    const texts = cardTexts(cardOf(row).card);
    expect(texts).toEqual(expect.arrayContaining(['Exchange (EWS, Basic Auth)', 'Exchange (EWS, OAuth)']));
    expect(texts.filter((t) => t.includes(' — Exchange'))).toHaveLength(10);
    expect(texts).toContain('and 4 more');
  });

  test('a deadline nobody is affected by is not announced; tenant overrides move the dates', async () => {
    for (const c of legacyUsers(14)) await store.deleteConnection(TENANT, c.upn, c.kind);
    expect(await triggers.runDailyChecks(new Date('2026-12-01T06:00:00Z'))).toBe(0);
    await store.putConnection(connection('late@contoso.com', 'ews-basic', 'connected'));
    await store.updateTenant(TENANT, { deadlineOverrides: { 'smtp-auth-basic-disabled': '2027-03-01' } });
    expect(tenantDeadlines({ 'smtp-auth-basic-disabled': '2027-03-01' }).find((d) => d.id === 'smtp-auth-basic-disabled')?.date).toBe('2027-03-01');
    expect(await triggers.runDailyChecks(new Date('2026-12-01T06:00:00Z'))).toBe(2); // SMTP AUTH moved to 90 days away; EWS removal 121: none
    expect((await outbox()).map((r) => r.idempotencyKey.split('|').slice(2, 4).join('|'))).toEqual([
      'smtp-auth-basic-disabled@2027-03-01|90',
      'smtp-auth-basic-disabled@2027-03-01|90',
    ]);
  });

  test('warns about an expiring client secret at 30, 14, 7 and 1 days, and once it has expired', async () => {
    for (const c of legacyUsers(14)) await store.deleteConnection(TENANT, c.upn, c.kind);
    await store.putServiceAccount({
      tenantId: TENANT,
      tenant: 'contoso.com',
      clientId: '66193c42-2023-423c-acba-f7f851f7f085',
      clientSecret: 'demo-sync-2026-sandbox-only-value',
      secretHint: 'dem',
      secretExpiresAt: '2027-01-15',
      testAccount: 'megan.bowen@contoso.com',
      features: ['emailSync'],
      updatedAt: new Date().toISOString(),
      updatedBy: 'adele.vance@contoso.com',
    });
    expect(await triggers.runDailyChecks(new Date('2026-12-01T06:00:00Z'))).toBe(0); // 45 days
    expect(await triggers.runDailyChecks(new Date('2026-12-20T06:00:00Z'))).toBe(2); // 26 → 30
    expect(await triggers.runDailyChecks(new Date('2026-12-21T06:00:00Z'))).toBe(0);
    expect(await triggers.runDailyChecks(new Date('2027-01-08T06:00:00Z'))).toBe(2); // 7
    expect(await triggers.runDailyChecks(new Date('2027-01-20T06:00:00Z'))).toBe(2); // expired
    const rows = await outbox('secret.expiring');
    expect(rows.map((r) => r.idempotencyKey.split('|')[3])).toEqual(['30', '30', '7', '7', '0', '0']);
    const texts = cardTexts(cardOf(rows[4]).card).join('\n');
    expect(texts).toContain('has expired');
    expect(texts).not.toContain('demo-sync-2026');
  });

  test('the milestone reached is the smallest one not below the days left', () => {
    expect(reachedMilestone(91, [90, 60, 30])).toBeUndefined();
    expect(reachedMilestone(90, [90, 60, 30])).toBe(90);
    expect(reachedMilestone(61, [90, 60, 30])).toBe(90);
    expect(reachedMilestone(0, [90, 60, 30, 1])).toBe(1);
  });
});

describe('remind', () => {
  test('queues one nudge per reachable user, counts the unreachable, and never twice a day', async () => {
    const users = legacyUsers(4);
    users[1] = { ...users[1], oid: 'aaaaaaaa-0000-0000-0000-000000000001' };
    services.nudge = [
      ...users,
      connection('diego.siciliani@contoso.com', 'graph-delegated', 'needs-reconnect', {
        displayName: 'Diego Siciliani',
        error: { code: 'REFRESH_TOKEN_REVOKED', message: 'Your sign-in was revoked.', remedy: 'Click Connect Office 365 to reconnect.' },
      }),
    ];
    await conversation('chat-megan', false, { userUpn: users[0].upn });
    await conversation('chat-alex', false, { userOid: 'aaaaaaaa-0000-0000-0000-000000000001' });
    await conversation('chat-diego', false, { userUpn: 'diego.siciliani@contoso.com' });
    const now = new Date('2026-11-26T10:00:00Z');

    expect(await triggers.remind(TENANT, 'adele.vance@contoso.com', now)).toEqual({ users: 5, queued: 3, alreadyReminded: 0, unreachable: 2 });
    const rows = await outbox('reconnect.nudge');
    expect(rows.map((r) => r.conversationId).sort()).toEqual(['chat-alex', 'chat-diego', 'chat-megan']);
    const diego = cardOf(rows.find((r) => r.conversationId === 'chat-diego')!);
    expect(diego.name).toBe('ReconnectNudge');
    expect(cardTexts(diego.card)).toContain('Your sign-in was revoked.');
    expect(cardProblems(diego.card)).toEqual([]);

    expect(await triggers.remind(TENANT, 'adele.vance@contoso.com', new Date('2026-11-26T15:00:00Z'))).toEqual({
      users: 5,
      queued: 0,
      alreadyReminded: 3,
      unreachable: 2,
    });
    expect((await triggers.remind(TENANT, 'adele.vance@contoso.com', new Date('2026-11-27T09:00:00Z'))).queued).toBe(3);
    const audit = await store.listAudit(TENANT);
    expect(audit.filter((a) => a.action === 'bot.remind')).toHaveLength(3);
  });
});
