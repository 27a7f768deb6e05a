/**
 * `npm run bench:notify [-- <conversations>]`: fans one card out to 2,000 personal chats in one
 * tenant through the real path (outbox → Notifier → CloudAdapter.continueConversationAsync → HTTP)
 * against a fake Bot Connector on 127.0.0.1 that answers in 20 ms and enforces Teams' limits
 * (7/s per conversation, 50/s per tenant, 429 + Retry-After). Prints figures only.
 *
 * `npm run bench:notify -- campaign [<users>]`: a reconnect campaign for 2,000 users without the
 * bot, through the whole product and the sandbox (Graph installs, Teams' conversationUpdate to
 * /api/messages, nudges through the outbox to the sandbox's Teams stand-in); runs the step twice and
 * drains twice, as after a restart, and counts what each user received.
 *
 * `npm run bench:notify -- instances [<conversations>]`: the same fan-out three ways in one run:
 * one instance on SQLite, one instance on PostgreSQL, and two instances (two stores, two bots,
 * each its own lease owner) on one PostgreSQL database draining at once; cards/s, 429s, lost and
 * duplicated for each. PostgreSQL as in bench:store (BENCH_DATABASE_URL, TEST_DATABASE_URL or a
 * throw-away server).
 */
import pino from 'pino';
import { createBot } from '../bot';
import { cardPayload } from '../bot/payload';
import { testFailedModel } from '../bot/cards';
import { startFakeConnector } from '../tests/helpers/fake-connector';
import { Keyring, openStore } from '../src/store';
import type { Store } from '../src/store/types';
import { ADMIN_OID, fakeServices, openTestStore, TAB_URL, TENANT, testResult } from '../tests/helpers/bot-kit';
import { openBenchDatabase } from '../tests/helpers/postgres-server';

const PER_TENANT_LIMIT = 50;
const PACED_RATE = 45;

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const connector = await startFakeConnector({ latencyMs: 20, limits: { perConversationPerSecond: 7, perTenantPerSecond: PER_TENANT_LIMIT } });
  const store = await openTestStore();
  const bot = createBot({ store, services: fakeServices(), logger: pino({ level: 'silent' }) });
  try {
    const queued = await fillOutbox(store, n, connector.url);

    const started = process.hrtime.bigint();
    const result = await bot.notifier.drain();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    const perConversation = new Map<string, number>();
    for (const r of connector.received) perConversation.set(r.conversationId, (perConversation.get(r.conversationId) ?? 0) + 1);
    const delivered = perConversation.size;
    const duplicated = [...perConversation.values()].reduce((a, c) => a + (c - 1), 0);
    const floor = n / PACED_RATE;
    const outbox = await store.listOutbox(TENANT);
    const count = (s: string) => outbox.filter((r) => r.status === s).length;

    const rows: Array<[string, string]> = [
      ['conversations', String(n)],
      ['queued', String(queued)],
      ['total time', `${seconds.toFixed(2)} s`],
      [`floor (${n} / ${PACED_RATE} per s)`, `${floor.toFixed(2)} s`],
      ['ratio', (seconds / floor).toFixed(3)],
      ['throughput', `${(delivered / seconds).toFixed(1)} msg/s`],
      ['429s seen', String(connector.throttled)],
      ['requests', String(connector.requests)],
      ['lost', String(n - delivered)],
      ['duplicated', String(duplicated)],
      ['outbox sent / pending / failed', `${count('sent')} / ${count('pending')} / ${count('failed')}`],
      ['notifier sent / retried / failed', `${result.sent} / ${result.retried} / ${result.failed}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
  } finally {
    await bot.close();
    await store.close();
    await connector.close();
  }
}

/** Conversations and one queued card each, written through `store`. */
async function fillOutbox(store: Store, n: number, serviceUrl: string): Promise<number> {
  const at = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const conversationId = `a:bench-${i}`;
    await store.putConversation({
      tenantId: TENANT,
      conversationId,
      scope: 'personal',
      userOid: ADMIN_OID,
      subscribed: true,
      reference: {
        channelId: 'msteams',
        serviceUrl,
        bot: { id: '28:bench-bot', name: 'Connection Center' },
        user: { id: `29:user-${i}` },
        conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
      },
      updatedAt: at,
    });
  }
  const payload = cardPayload('TestFailed', testFailedModel(testResult('secret'), { tabUrl: TAB_URL, tenantName: 'Contoso' }));
  return store.enqueue(
    Array.from({ length: n }, (_, i) => ({
      tenantId: TENANT,
      kind: 'test.failed' as const,
      idempotencyKey: `bench|${i}`,
      conversationId: `a:bench-${i}`,
      payload,
    })),
  );
}

/** One fan-out of n cards by as many instances as `stores` (each its own bot and lease owner) draining at once. */
async function fanOut(label: string, stores: Store[], n: number): Promise<string[]> {
  const connector = await startFakeConnector({ latencyMs: 20, limits: { perConversationPerSecond: 7, perTenantPerSecond: PER_TENANT_LIMIT } });
  const bots = stores.map((store, i) =>
    createBot({ store, services: fakeServices(), logger: pino({ level: 'silent' }), notifier: { owner: `bench-instance-${i + 1}` } }),
  );
  try {
    const queued = await fillOutbox(stores[0]!, n, connector.url);
    const started = process.hrtime.bigint();
    // A drain ends when nothing is due for it; items another instance holds are not. Drain again
    // until every item is settled.
    for (;;) {
      await Promise.all(bots.map((b) => b.notifier.drain()));
      if ((await stores[0]!.listOutbox(TENANT, 'pending')).length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const perConversation = new Map<string, number>();
    for (const r of connector.received) perConversation.set(r.conversationId, (perConversation.get(r.conversationId) ?? 0) + 1);
    const delivered = perConversation.size;
    const duplicated = [...perConversation.values()].reduce((a, c) => a + (c - 1), 0);
    const outbox = await stores[0]!.listOutbox(TENANT);
    const count = (s: string) => outbox.filter((r) => r.status === s).length;
    return [
      label,
      String(queued),
      `${seconds.toFixed(2)} s`,
      (seconds / (n / PACED_RATE)).toFixed(3),
      `${(delivered / seconds).toFixed(1)}`,
      String(connector.throttled),
      String(n - delivered),
      String(duplicated),
      `${count('sent')} / ${count('pending')} / ${count('failed')}`,
    ];
  } finally {
    for (const b of bots) await b.close();
    await connector.close();
  }
}

async function instances(): Promise<void> {
  const n = Number(process.argv[3] ?? 2000);
  const keyring = Keyring.fromKeys(Buffer.alloc(32, 7));
  const rows: string[][] = [];
  const sqlite = await openTestStore();
  try {
    rows.push(await fanOut('1 instance, SQLite', [sqlite], n));
  } finally {
    await sqlite.close();
  }
  for (const count of [1, 2]) {
    const db = await openBenchDatabase('bench_notify');
    if (!db) {
      process.stdout.write('PostgreSQL: no server (set BENCH_DATABASE_URL or install PostgreSQL); SQLite only.\n');
      break;
    }
    const stores: Store[] = [];
    try {
      for (let i = 0; i < count; i++) stores.push(await openStore(db.url, keyring));
      rows.push(await fanOut(`${count} instance${count > 1 ? 's' : ''}, PostgreSQL`, stores, n));
    } finally {
      for (const s of stores) await s.close();
      await db.close();
    }
  }
  const head = ['run', 'queued', 'time', `÷ floor (${n}/${PACED_RATE} per s)`, 'cards/s', '429s', 'lost', 'duplicated', 'sent / pending / failed'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${[fmt(head), ...rows.map(fmt)].join('\n')}\n`);
}

async function campaign(): Promise<void> {
  const n = Number(process.argv[3] ?? 2000);
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { ensureCertificates, loadContosoSeed, startSandbox } = await import('../src/sandbox');
  const { loadConfig } = await import('../src/config');
  const { startProduct } = await import('../src/server');
  const certsDir = process.env.SANDBOX_CERTS_DIR;
  if (!certsDir) throw new Error('run through npm run bench:notify (it trusts the sandbox CA)');
  const seed = loadContosoSeed();
  const domain = 'contoso.com';
  const hex = (i: number) => i.toString(16).padStart(12, '0');
  const users = Array.from({ length: n }, (_, i) => ({
    oid: `0b0b0b0b-0000-4000-8000-${hex(i)}`,
    upn: `bench.user${i}@${domain}`,
    displayName: `Bench User ${i}`,
    givenName: 'Bench',
    surname: `User ${i}`,
    mailbox: 'none' as const,
    inAccessPolicy: true,
  }));
  seed.users.push(...users);
  seed.legacyConnections = users.map((u) => ({ upn: u.upn, kind: 'ews-basic' as const, state: 'connected' as const }));
  const sandbox = await startSandbox({ certs: await ensureCertificates(certsDir), productRedirectUris: ['http://localhost:3978/auth/callback'], seed });
  const config = loadConfig(
    { PORT: '0', ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), DATA_STORE: 'sqlite::memory:', LOG_LEVEL: 'silent' },
    { dataDir: mkdtempSync(path.join(tmpdir(), 'cc-bench-')) },
  );
  const product = await startProduct(config, { logger: pino({ level: 'silent' }), sandbox, host: '127.0.0.1', background: false });
  try {
    const tenantId = sandbox.tenantId.toLowerCase();
    sandbox.control.setAppRoles({ clientId: product.identity.clientId, roles: ['TeamsAppInstallation.ReadWriteSelfForUser.All', 'AppCatalog.Read.All'] });
    // Starting runs the first step: every user gets the bot installed, then a nudge queued.
    const stepStarted = process.hrtime.bigint();
    await product.campaign.act(tenantId, 'bench', { action: 'start' });
    const installSeconds = Number(process.hrtime.bigint() - stepStarted) / 1e9;
    const started = process.hrtime.bigint();
    const first = await product.bot.notifier.drain();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // The scheduler runs the step again, and a restarted notifier drains again: nothing new may go out.
    await product.campaign.step(tenantId);
    const second = await product.bot.notifier.drain();

    const nudges = new Map<string, number>();
    for (const u of users) {
      const chat = sandbox.teams.chat(u.upn);
      const count = (chat?.messages ?? []).filter((m) => m.from === 'bot' && JSON.stringify(m.activity.attachments ?? []).includes('please reconnect')).length;
      nudges.set(u.upn, count);
    }
    const lost = [...nudges.values()].filter((c) => c === 0).length;
    const duplicated = [...nudges.values()].reduce((a, c) => a + Math.max(0, c - 1), 0);
    const view = await product.campaign.view(tenantId);
    const floor = n / PACED_RATE;
    const rows: Array<[string, string]> = [
      ['users', String(n)],
      ['installed (funnel)', String(view.funnel.installed)],
      ['nudged (funnel)', String(view.funnel.nudged)],
      ['install + queue step', `${installSeconds.toFixed(2)} s`],
      ['nudge delivery time', `${seconds.toFixed(2)} s`],
      [`floor (${n} / ${PACED_RATE} per s)`, `${floor.toFixed(2)} s`],
      ['ratio', (seconds / floor).toFixed(3)],
      ['lost', String(lost)],
      ['duplicated', String(duplicated)],
      ['notifier sent (1st / 2nd drain)', `${first.sent} / ${second.sent}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
  } finally {
    await product.stop();
    await sandbox.close();
  }
}

(process.argv[2] === 'campaign' ? campaign() : process.argv[2] === 'instances' ? instances() : main()).catch((err: unknown) => {
  process.stderr.write(`bench:notify: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
