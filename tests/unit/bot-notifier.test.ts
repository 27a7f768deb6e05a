import type { Store } from '../../src/store/types';
import { classifySendError, Notifier, TokenBucket, type SendFn } from '../../bot/notifier';
import { parseRetryAfter } from '../../src/domain/formats';
import { cardPayload } from '../../bot/payload';
import { errorModel } from '../../bot/cards';
import { captureLogger, openTestStore, TAB_URL, VirtualClock } from '../helpers/bot-kit';

const T1 = 'tenant-one';
const T2 = 'tenant-two';

let store: Store;
beforeEach(async () => {
  store = await openTestStore();
});
afterEach(async () => {
  await store.close();
});

async function conversation(tenantId: string, conversationId: string): Promise<void> {
  await store.putConversation({
    tenantId,
    conversationId,
    scope: 'personal',
    subscribed: true,
    reference: { conversation: { id: conversationId } },
    updatedAt: new Date().toISOString(),
  });
}

async function enqueue(tenantId: string, conversationId: string, n: number, tag = 'm'): Promise<void> {
  await store.enqueue(
    Array.from({ length: n }, (_, i) => ({
      tenantId,
      kind: 'test.failed' as const,
      idempotencyKey: `${tag}-${conversationId}-${i}`,
      conversationId,
      payload: cardPayload('Error', errorModel({ title: `${tag} ${i}`, message: 'x', tabUrl: TAB_URL })),
    })),
  );
}

interface Sent {
  tenantId: string;
  conversationId: string;
  title: string;
  at: number;
}

/** A send that records (virtual) time and can be told to fail. */
function recorder(clock: VirtualClock, fail?: (title: string, attempt: number) => unknown): { send: SendFn; sent: Sent[]; attempts: Map<string, number> } {
  const sent: Sent[] = [];
  const attempts = new Map<string, number>();
  const send: SendFn = async (conv, activity) => {
    const title = String(activity.summary);
    const n = (attempts.get(title) ?? 0) + 1;
    attempts.set(title, n);
    const failure = fail?.(title, n);
    if (failure) throw failure;
    sent.push({ tenantId: conv.tenantId, conversationId: conv.conversationId, title, at: clock.now() });
  };
  return { send, sent, attempts };
}

/** The most sends found in any one-second window (t - 1000, t]. */
function maxPerSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[lo] <= sorted[hi] - 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('Notifier pacing', () => {
  test('stays within 7/s per conversation and 45/s per tenant, keeps per-conversation order, and does not hold one tenant up for another', async () => {
    await conversation(T1, 'busy');
    await enqueue(T1, 'busy', 14, 'busy');
    for (let i = 0; i < 150; i++) {
      await conversation(T1, `c${i}`);
      await enqueue(T1, `c${i}`, 1, 'fan');
    }
    for (let i = 0; i < 40; i++) {
      await conversation(T2, `d${i}`);
      await enqueue(T2, `d${i}`, 1, 'other');
    }
    const clock = new VirtualClock(Date.now() + 1000);
    const start = clock.now();
    const { send, sent } = recorder(clock);
    const notifier = new Notifier({ store, logger: captureLogger().logger, send, clock, batchSize: 100 });
    const result = await notifier.drain();
    expect(result).toEqual({ sent: 204, retried: 0, failed: 0 });
    expect(new Set(sent.map((s) => `${s.conversationId}/${s.title}`)).size).toBe(204);

    const busy = sent.filter((s) => s.conversationId === 'busy');
    expect(busy.map((s) => s.title)).toEqual(Array.from({ length: 14 }, (_, i) => `busy ${i}`));
    expect(maxPerSecond(busy.map((s) => s.at))).toBeLessThanOrEqual(7);

    const t1 = sent.filter((s) => s.tenantId === T1).map((s) => s.at);
    // 45 per second with a burst of 3: never more than 48 in a second (Teams allows ~50).
    expect(maxPerSecond(t1)).toBeLessThanOrEqual(48);
    const span1 = Math.max(...t1) - start;
    expect(span1).toBeGreaterThanOrEqual(((164 - 3) / 45) * 1000 - 1);
    // …and not much slower than that: the buckets are the only brake.
    expect(span1).toBeLessThanOrEqual((164 / 45) * 1000 * 1.05);

    const t2 = sent.filter((s) => s.tenantId === T2).map((s) => s.at);
    // Tenant two's 40 messages (beyond the first batch, too) are not queued behind tenant one's 164.
    expect(Math.max(...t2) - start).toBeLessThanOrEqual(1500);
    expect(Math.max(...t2)).toBeLessThan(Math.max(...t1) - 1500);
  });

  test('a token bucket refills at its rate and never holds more than its capacity', () => {
    const b = new TokenBucket(10, 2, 0);
    expect(b.waitMs(0)).toBe(0);
    b.take(0);
    b.take(0);
    expect(b.waitMs(0)).toBe(100);
    expect(b.waitMs(100)).toBe(0);
    b.take(100);
    expect(b.waitMs(10_000)).toBe(0);
    b.take(10_000);
    b.take(10_000);
    expect(b.waitMs(10_000)).toBeGreaterThan(0);
    b.block(20_000);
    expect(b.waitMs(15_000)).toBe(5000);
    expect(b.waitMs(20_000)).toBe(100);
  });
});

describe('Notifier retries', () => {
  test('a 429 waits for Retry-After, holds that conversation back meanwhile, and then delivers once', async () => {
    await conversation(T1, 'a');
    await enqueue(T1, 'a', 2, 'x');
    const clock = new VirtualClock(Date.now() + 1000);
    const t0 = clock.now();
    const throttled = Object.assign(new Error('Too Many Requests'), {
      statusCode: 429,
      response: { status: 429, headers: { get: (n: string) => (n === 'retry-after' ? '3' : undefined) } },
    });
    const { send, sent, attempts } = recorder(clock, (title, n) => (title === 'x 0' && n === 1 ? throttled : undefined));
    const notifier = new Notifier({ store, logger: captureLogger().logger, send, clock, random: () => 0.5 });

    // Virtual time: the drain sleeps through the Retry-After itself and finishes the job.
    expect(await notifier.drain()).toEqual({ sent: 2, retried: 1, failed: 0 });
    expect(attempts.get('x 0')).toBe(2);
    expect(sent.map((s) => s.title).sort()).toEqual(['x 0', 'x 1']);
    // Nothing went to that conversation during the Retry-After, the retried message included.
    for (const s of sent) expect(s.at).toBeGreaterThanOrEqual(t0 + 3000);
    const rows = await store.listOutbox(T1);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ['sent', 2],
      ['sent', 1],
    ]);
  });

  test('a retry is recorded in the outbox with its due time, so it survives a restart', async () => {
    await conversation(T1, 'a');
    await enqueue(T1, 'a', 1, 'y');
    const clock = new VirtualClock(Date.now() + 1000);
    const t0 = clock.now();
    const { send } = recorder(clock, () => Object.assign(new Error('throttled'), { statusCode: 429, headers: { 'retry-after': '30' } }));
    const notifier = new Notifier({ store, logger: captureLogger().logger, send, clock, random: () => 0.5 });
    // The next attempt is 30 s away: this drain ends with the item still pending.
    expect(await notifier.drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
    const [pending] = await store.listOutbox(T1, 'pending');
    expect(pending.lastError).toBe('HTTP 429');
    expect(pending.attempts).toBe(1);
    expect(Date.parse(pending.nextAttemptAt) - t0).toBe(30_000);
  });

  test('backs off exponentially on 502/504/412 and gives up after the bound, logged without the payload', async () => {
    await conversation(T1, 'a');
    await enqueue(T1, 'a', 1, 'flaky');
    const clock = new VirtualClock(Date.now() + 1000);
    const statuses = [502, 504, 412, 502];
    const { send, attempts } = recorder(clock, (_t, n) => Object.assign(new Error('bad gateway'), { statusCode: statuses[(n - 1) % statuses.length] }));
    const { logger, lines } = captureLogger();
    const notifier = new Notifier({ store, logger, send, clock, random: () => 0, maxAttempts: 4, baseDelayMs: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = clock.now();
      await notifier.drain();
      const [item] = await store.listOutbox(T1);
      if (item.status !== 'pending') break;
      delays.push(Date.parse(item.nextAttemptAt) - before);
      clock.t = Date.parse(item.nextAttemptAt);
    }
    // random() = 0 → the lower half of each window: 500, 1000, 2000 ms.
    expect(delays).toEqual([500, 1000, 2000]);
    const [item] = await store.listOutbox(T1);
    expect(item.status).toBe('failed');
    expect(item.attempts).toBe(4);
    expect(attempts.get('flaky 0')).toBe(4);
    const log = lines.join('');
    expect(log).toContain('giving up');
    expect(log).not.toContain('flaky 0');
  });

  test('an error that retrying cannot fix (403) fails at once', async () => {
    await conversation(T1, 'a');
    await enqueue(T1, 'a', 1, 'blocked');
    const clock = new VirtualClock(Date.now() + 1000);
    const { send } = recorder(clock, () => Object.assign(new Error('Forbidden'), { statusCode: 403, code: 'ConversationBlockedByUser' }));
    const result = await new Notifier({ store, logger: captureLogger().logger, send, clock }).drain();
    expect(result).toEqual({ sent: 0, retried: 0, failed: 1 });
    expect((await store.listOutbox(T1, 'failed'))[0].lastError).toBe('HTTP 403 ConversationBlockedByUser');
  });

  test('a message for a conversation that was removed is dropped, not retried', async () => {
    await store.enqueue([
      {
        tenantId: T1,
        kind: 'test.failed',
        idempotencyKey: 'gone',
        conversationId: 'gone',
        payload: cardPayload('Error', errorModel({ title: 'x', tabUrl: TAB_URL })),
      },
    ]);
    const clock = new VirtualClock(Date.now() + 1000);
    const { send, sent } = recorder(clock);
    const result = await new Notifier({ store, logger: captureLogger().logger, send, clock }).drain();
    expect(result.failed).toBe(1);
    expect(sent).toEqual([]);
  });
});

describe('Notifier restart', () => {
  test('a new notifier resumes from the outbox: nothing marked sent goes out again, nothing is lost', async () => {
    for (let i = 0; i < 10; i++) await conversation(T1, `c${i}`);
    for (let i = 0; i < 10; i++) await enqueue(T1, `c${i}`, 1, 'r');
    const clock = new VirtualClock(Date.now() + 1000);
    const all: string[] = [];
    const holder: { first?: Notifier } = {};
    const firstSend: SendFn = async (c) => {
      all.push(c.conversationId);
      // The process "dies" after four messages: the loop stops taking new ones.
      if (all.length === 4) void holder.first!.stop();
    };
    const first = (holder.first = new Notifier({ store, logger: captureLogger().logger, send: firstSend, clock, maxInFlight: 1 }));
    await first.drain();
    await first.stop();
    const sentBefore = (await store.listOutbox(T1, 'sent')).length;
    expect(sentBefore).toBe(4);

    const second = recorder(clock);
    await new Notifier({ store, logger: captureLogger().logger, send: second.send, clock }).drain();
    expect(second.sent).toHaveLength(6);
    expect([...all, ...second.sent.map((s) => s.conversationId)].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`).sort());
    expect(await store.listOutbox(T1, 'pending')).toEqual([]);
  });

  test('start() delivers what is enqueued later when woken, and stop() ends the loop', async () => {
    await conversation(T1, 'a');
    const clock = new VirtualClock(Date.now() + 1000);
    const { send, sent } = recorder(clock);
    const notifier = new Notifier({ store, logger: captureLogger().logger, send, clock, pollIntervalMs: 60_000 });
    notifier.start();
    await enqueue(T1, 'a', 3, 'later');
    clock.t = Date.now() + 1000;
    notifier.wake();
    for (let i = 0; i < 10_000 && sent.length < 3; i++) await new Promise((r) => setImmediate(r));
    await notifier.stop();
    expect(sent.map((s) => s.title)).toEqual(['later 0', 'later 1', 'later 2']);
    const countAfterStop = sent.length;
    await enqueue(T1, 'a', 1, 'after-stop');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(countAfterStop);
  });
});

describe('Notifier after its lease was taken over', () => {
  test('a send that outlived its lease leaves the item to the instance that claimed it since, and logs that', async () => {
    await conversation(T1, 'a');
    await enqueue(T1, 'a', 1, 'slow');
    const clock = new VirtualClock(Date.now() + 1000);
    const takenOver: string[] = [];
    const send: SendFn = async () => {
      // This instance stalls past its lease while instance B claims the item.
      clock.t += 61_000;
      takenOver.push(...(await store.claimOutbox(new Date(clock.t), 10, 'instance-B', 60_000)).map((i) => i.id));
    };
    const { logger, lines } = captureLogger();
    expect(await new Notifier({ store, logger, send, clock, owner: 'instance-A', leaseMs: 60_000 }).drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(takenOver).toHaveLength(1);
    expect(await store.listOutbox(T1)).toEqual([expect.objectContaining({ id: takenOver[0], status: 'pending', attempts: 0 })]);
    expect(lines.filter((l) => l.includes('lease lost'))).toHaveLength(1);
    expect(await store.markSent(takenOver[0], new Date(clock.t), 'instance-B')).toBe(true);
  });
});

describe('send errors', () => {
  test('status, Retry-After and network codes are read from what botbuilder and fetch throw', () => {
    const now = Date.parse('2026-11-26T10:00:00Z');
    expect(classifySendError({ statusCode: 429, response: { headers: { get: () => '2' } } }, now)).toEqual({
      status: 429,
      retryAfterMs: 2000,
      retryable: true,
      summary: 'HTTP 429',
    });
    expect(classifySendError({ status: 504, headers: { 'retry-after': 'Thu, 26 Nov 2026 10:00:05 GMT' } }, now)).toMatchObject({
      status: 504,
      retryAfterMs: 5000,
      retryable: true,
    });
    expect(classifySendError({ response: { status: 412 } }, now)).toMatchObject({ status: 412, retryable: true });
    expect(classifySendError({ statusCode: 400 }, now)).toMatchObject({ status: 400, retryable: false });
    expect(classifySendError({ code: 'ECONNRESET' }, now)).toEqual({
      status: undefined,
      retryAfterMs: undefined,
      retryable: true,
      summary: 'send failed: ECONNRESET',
    });
    expect(classifySendError(new Error('boom'), now)).toMatchObject({ retryable: false, summary: 'send failed' });
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
