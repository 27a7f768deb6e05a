/**
 * `npm run bench:notify [-- <conversations>]`: fans one card out to 2,000 personal chats in one
 * tenant through the real path (outbox → Notifier → CloudAdapter.continueConversationAsync → HTTP)
 * against a fake Bot Connector on 127.0.0.1 that answers in 20 ms and enforces Teams' limits
 * (7/s per conversation, 50/s per tenant, 429 + Retry-After). Prints figures only.
 */
import pino from 'pino';
import { createBot } from '../bot';
import { cardPayload } from '../bot/payload';
import { testFailedModel } from '../bot/cards';
import { startFakeConnector } from '../tests/helpers/fake-connector';
import { ADMIN_OID, fakeServices, openTestStore, TAB_URL, TENANT, testResult } from '../tests/helpers/bot-kit';

const PER_TENANT_LIMIT = 50;
const PACED_RATE = 45;

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const connector = await startFakeConnector({ latencyMs: 20, limits: { perConversationPerSecond: 7, perTenantPerSecond: PER_TENANT_LIMIT } });
  const store = await openTestStore();
  const bot = createBot({ store, services: fakeServices(), logger: pino({ level: 'silent' }) });
  try {
    const at = new Date().toISOString();
    for (let i = 0; i < n; i++) {
      const conversationId = `a:bench-${i}`;
      await store.putConversation({
        tenantId: TENANT,
        conversationId,
        scope: 'personal',
        // Admin cards reach a personal chat only if its person is a proven admin.
        userOid: ADMIN_OID,
        subscribed: true,
        reference: {
          channelId: 'msteams',
          serviceUrl: connector.url,
          bot: { id: '28:bench-bot', name: 'Connection Center' },
          user: { id: `29:user-${i}` },
          conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
        },
        updatedAt: at,
      });
    }
    const payload = cardPayload('TestFailed', testFailedModel(testResult('secret'), { tabUrl: TAB_URL, tenantName: 'Contoso' }));
    const queued = await store.enqueue(
      Array.from({ length: n }, (_, i) => ({
        tenantId: TENANT,
        kind: 'test.failed' as const,
        idempotencyKey: `bench|${i}`,
        conversationId: `a:bench-${i}`,
        payload,
      })),
    );

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

main().catch((err: unknown) => {
  process.stderr.write(`bench:notify: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
