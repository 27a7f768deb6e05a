/**
 * The notifier on a store whose claims and writes travel on different connections (PostgreSQL,
 * as several instances use it): a claim can read an item as still pending while this instance's
 * own send of it finishes and marks it sent. The notifier must not take that stale copy for a new
 * item and send it again. Once with a store that makes the interleaving happen every time, once on
 * PostgreSQL itself.
 */
import { cardPayload } from '../../bot/payload';
import { errorModel } from '../../bot/cards';
import { Notifier, type SendFn } from '../../bot/notifier';
import { Keyring, openStore } from '../../src/store';
import type { Store } from '../../src/store/types';
import { captureLogger, openTestStore, TAB_URL } from '../helpers/bot-kit';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const TENANT = 'tenant-one';

async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.putConversation({
      tenantId: TENANT,
      conversationId: `c${i}`,
      scope: 'personal',
      subscribed: true,
      reference: { conversation: { id: `c${i}` } },
      updatedAt: new Date().toISOString(),
    });
  }
  await store.enqueue(
    Array.from({ length: n }, (_, i) => ({
      tenantId: TENANT,
      kind: 'test.failed' as const,
      idempotencyKey: `stale-${i}`,
      conversationId: `c${i}`,
      payload: cardPayload('Error', errorModel({ title: `card ${i}`, message: 'x', tabUrl: TAB_URL })),
    })),
  );
}

/** Per conversation, how many times a card reached it. */
function recorder(): { send: SendFn; counts: Map<string, number>; inFlight: Set<string> } {
  const counts = new Map<string, number>();
  const inFlight = new Set<string>();
  const send: SendFn = async (conv) => {
    inFlight.add(conv.conversationId);
    await new Promise((r) => setTimeout(r, 5));
    counts.set(conv.conversationId, (counts.get(conv.conversationId) ?? 0) + 1);
    inFlight.delete(conv.conversationId);
  };
  return { send, counts, inFlight };
}

describe('notifier: a claim that read an item before this instance marked it sent', () => {
  test('does not send it again', async () => {
    const inner = await openTestStore();
    await fill(inner, 1);
    const { send, counts } = recorder();
    let markedSent: Promise<unknown> = Promise.resolve();
    // The claim's answer arrives after the item's own delivery has finished and been recorded,
    // as when the claim and markSent run on two connections.
    const overrides: Partial<Store> = {
      claimOutbox: async (...args) => {
        const rows = await inner.claimOutbox(...args);
        await markedSent;
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        return rows;
      },
      markSent: (...args) => (markedSent = inner.markSent(...args)),
    };
    const store = new Proxy(inner, {
      get: (target, prop) => {
        const own = overrides[prop as keyof Store];
        if (own) return own;
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    try {
      const result = await new Notifier({ store, logger: captureLogger().logger, send }).drain();
      expect(result.sent).toBe(1);
      expect([...counts]).toEqual([['c0', 1]]);
    } finally {
      await inner.close();
    }
  });
});

describePostgres('notifier on PostgreSQL', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await createTestDatabase('notifier');
    store = await openStore(db.url, Keyring.fromKeys(Buffer.alloc(32, 5)));
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  test('sends each of 300 cards once', async () => {
    await fill(store, 300);
    const { send, counts } = recorder();
    // Teams' pace does not matter here: what is checked is how often each card goes out.
    await new Notifier({ store, logger: captureLogger().logger, send, perTenantPerSecond: 10_000, tenantBurst: 100 }).drain();
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(counts.size).toBe(300);
    expect(twice).toEqual([]);
    expect(await store.listOutbox(TENANT, 'pending')).toEqual([]);
  });
});
