/**
 * Delivers the outbox: paced under Teams' limits with token buckets (per conversation
 * and per tenant), retrying 429/412/502/504 with exponential backoff and jitter that honours
 * Retry-After, giving up after a bound. Progress lives in the Store (markSent / markRetry /
 * markFailed), so a restarted notifier resumes where the last one stopped and never resends an item
 * marked sent. Items are claimed under a lease (claimOutbox) in the name of this instance, so
 * several instances sharing a store each send different items, and the items of an instance that
 * died are taken over when their lease ends. A send is only started while at least half of its
 * lease is left, and ending it names this instance: once another instance has taken the lease over,
 * this one's late mark changes nothing. A crash between a successful send and markSent can still
 * repeat that one message:
 * the Bot Connector has no idempotency key, so delivery is at least once within that window
 * (docs/scale-out.md).
 */
import type { Logger } from 'pino';
import type { ConversationRecord, ConversationRecords, OutboxRecord, OutboxRecords } from '../src/store/types';
import { parseRetryAfter } from '../src/domain/formats';
import { activityFromPayload, type OutgoingActivity } from './payload';
import { loggableError } from './safe-error';
import { INSTANCE_ID } from '../src/services/lease';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export type SendFn = (conversation: ConversationRecord, activity: OutgoingActivity) => Promise<void>;
/**
 * Asked just before a send: `true` sends it; a sentence drops the item and is kept as the reason (an
 * admin card for someone no longer an admin, a nudge to someone who has reconnected meanwhile).
 */
export type RecipientCheck = (conversation: ConversationRecord, item: OutboxRecord) => Promise<true | string>;

export interface NotifierOptions {
  store: OutboxRecords & ConversationRecords;
  logger: Logger;
  send: SendFn;
  /** Checked at delivery, not only at enqueue: an item may wait (retries) while rights change. */
  mayReceive?: RecipientCheck;
  clock?: Clock;
  random?: () => number;
  /** Teams: 7 messages per second per conversation. */
  perConversationPerSecond?: number;
  /** Teams allows about 50 per second per app per tenant; stay under it. */
  perTenantPerSecond?: number;
  /** Burst size of the tenant bucket; rate × 1 s + burst must stay under the connector's window. */
  tenantBurst?: number;
  /** Attempts before an item is marked failed (the first send counts). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  batchSize?: number;
  maxInFlight?: number;
  /** How often the loop looks for due items when nobody calls `wake()`. */
  pollIntervalMs?: number;
  /** Who claims items (one id per process: INSTANCE_ID). */
  owner?: string;
  /** How long a claimed item is this instance's before another may take it over (default 60 s). */
  leaseMs?: number;
}

export interface DrainResult {
  sent: number;
  retried: number;
  failed: number;
}

/** The Store's page limit for dueOutbox. */
const MAX_FETCH = 1000;
const RETRYABLE_STATUS = new Set([412, 429, 502, 503, 504]);
const RETRYABLE_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR']);

export interface SendFailure {
  status?: number;
  retryAfterMs?: number;
  retryable: boolean;
  /** Safe for the log and the outbox: status and code only, never bodies or headers. */
  summary: string;
}

/** Reads status, Retry-After and a network code from what botbuilder, fetch or a test throws. */
export function classifySendError(err: unknown, nowMs: number): SendFailure {
  const e = (err ?? {}) as {
    statusCode?: unknown;
    status?: unknown;
    code?: unknown;
    retryAfterMs?: unknown;
    headers?: unknown;
    response?: { status?: unknown; headers?: unknown };
  };
  const statusRaw = e.statusCode ?? e.status ?? e.response?.status;
  const status = typeof statusRaw === 'number' && statusRaw >= 100 ? statusRaw : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  let retryAfterMs = typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined;
  if (retryAfterMs === undefined) {
    const header = headerOf(e.response?.headers, 'retry-after') ?? headerOf(e.headers, 'retry-after');
    retryAfterMs = header === undefined ? undefined : parseRetryAfter(header, nowMs);
  }
  const retryable = status !== undefined ? RETRYABLE_STATUS.has(status) : code !== undefined && RETRYABLE_NETWORK.has(code);
  const summary = status !== undefined ? `HTTP ${status}${code && !/^\d+$/.test(code) ? ` ${code}` : ''}` : `send failed${code ? `: ${code}` : ''}`;
  return { status, retryAfterMs, retryable, summary: summary.slice(0, 200) };
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const v = typeof h.get === 'function' ? h.get(name) : (h[name] ?? h[name.replace(/(^|-)\w/g, (s) => s.toUpperCase())]);
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** A token bucket: `rate` tokens per second, holding at most `capacity`. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  #blockedUntil = 0;
  constructor(
    readonly rate: number,
    readonly capacity: number,
    now: number,
  ) {
    this.#tokens = capacity;
    this.#last = now;
  }
  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#last) * this.rate) / 1000);
      this.#last = now;
    }
  }
  /** Milliseconds until one token is available (0 = now). */
  waitMs(now: number): number {
    if (now < this.#blockedUntil) return this.#blockedUntil - now;
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.rate);
  }
  take(now: number): void {
    this.#refill(now);
    this.#tokens -= 1;
  }
  /** After a 429: nothing leaves this bucket before `until`, and it restarts empty. */
  block(until: number): void {
    if (until > this.#blockedUntil) {
      this.#blockedUntil = until;
      this.#tokens = 0;
      this.#last = Math.max(this.#last, until);
    }
  }
}

export class Notifier {
  readonly #store: OutboxRecords & ConversationRecords;
  readonly #logger: Logger;
  readonly #send: SendFn;
  readonly #mayReceive: RecipientCheck | undefined;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #opts: Required<Omit<NotifierOptions, 'store' | 'logger' | 'send' | 'mayReceive' | 'clock' | 'random'>>;
  /** When each item this instance claimed stops being its own (ms). */
  readonly #leaseEnds = new Map<string, number>();
  readonly #tenantBuckets = new Map<string, TokenBucket>();
  readonly #conversationBuckets = new Map<string, TokenBucket>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Items whose delivery ended while the current claim was under way (see #due). */
  #settledDuringClaim = new Set<string>();
  #draining: Promise<DrainResult> | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake = new AbortController();
  #stop = new AbortController();

  constructor(options: NotifierOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#send = options.send;
    this.#mayReceive = options.mayReceive;
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
    this.#opts = {
      perConversationPerSecond: options.perConversationPerSecond ?? 7,
      perTenantPerSecond: options.perTenantPerSecond ?? 45,
      tenantBurst: options.tenantBurst ?? 3,
      maxAttempts: options.maxAttempts ?? 6,
      baseDelayMs: options.baseDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 5 * 60_000,
      batchSize: options.batchSize ?? 200,
      maxInFlight: options.maxInFlight ?? 16,
      pollIntervalMs: options.pollIntervalMs ?? 5000,
      owner: options.owner ?? INSTANCE_ID,
      leaseMs: options.leaseMs ?? 60_000,
    };
  }

  /** Runs the delivery loop until `stop()`: drains, then waits for `wake()` or the poll interval. */
  start(): void {
    if (this.#loop) return;
    this.#stopping = false;
    this.#loop = (async () => {
      while (!this.#stopping) {
        try {
          await this.drain();
        } catch (err) {
          this.#logger.error({ err: loggableError(err) }, 'notifier: drain failed; retrying after the poll interval');
        }
        if (this.#stopping) break;
        const signal = this.#wake.signal;
        await this.#clock.sleep(this.#opts.pollIntervalMs, signal);
        if (signal.aborted && !this.#stopping) this.#wake = new AbortController();
      }
    })();
  }

  /** Stops the loop and waits for sends already under way; pending items stay in the outbox. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    this.#stop.abort();
    await this.#loop;
    await this.#draining?.catch(() => undefined);
    await Promise.allSettled([...this.#inFlight.values()]);
    this.#loop = undefined;
    this.#stopping = false;
    this.#wake = new AbortController();
    this.#stop = new AbortController();
  }

  /** Something was enqueued: deliver it now rather than at the next poll. */
  wake(): void {
    this.#wake.abort();
  }

  /** Delivers everything due now (one drain at a time); resolves when nothing due is left. */
  drain(): Promise<DrainResult> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drain(): Promise<DrainResult> {
    const result: DrainResult = { sent: 0, retried: 0, failed: 0 };
    const { batchSize, maxInFlight } = this.#opts;
    while (!this.#stopping) {
      const queue = await this.#due(batchSize + maxInFlight, new Set());
      if (queue.length === 0) {
        if (this.#inFlight.size === 0) break;
        await Promise.race(this.#inFlight.values());
        continue;
      }
      const queued = new Set(queue.map((i) => i.id));
      let fetchedAt = this.#clock.now();
      while (queue.length > 0 && !this.#stopping) {
        if (this.#inFlight.size >= maxInFlight) {
          await Promise.race(this.#inFlight.values());
          continue;
        }
        const now = this.#clock.now();
        // The first item whose buckets both have a token: keeps order within a conversation while
        // a busy conversation (or tenant) does not hold up the others.
        let pick = -1;
        let soonest = Infinity;
        for (let i = 0; i < queue.length; i++) {
          const wait = Math.max(this.#tenantBucket(queue[i].tenantId, now).waitMs(now), this.#conversationBucket(queue[i], now).waitMs(now));
          if (wait === 0) {
            pick = i;
            break;
          }
          soonest = Math.min(soonest, wait);
        }
        if (pick < 0) {
          // Everything queued is waiting for a bucket: look past this batch (another tenant's
          // messages may be sendable now), at most four times a second.
          if (now - fetchedAt >= 250) {
            fetchedAt = now;
            for (const item of await this.#due(queue.length + batchSize, queued)) {
              queued.add(item.id);
              queue.push(item);
            }
            continue;
          }
          // Only stop() cuts a pacing sleep short; wake() must not, or the buckets would be overrun.
          await this.#clock.sleep(soonest, this.#stop.signal);
          continue;
        }
        const [item] = queue.splice(pick, 1);
        // Half the lease gone: it may soon be another instance's; leave it to the next claim.
        if ((this.#leaseEnds.get(item.id) ?? 0) - now < this.#opts.leaseMs / 2) {
          this.#leaseEnds.delete(item.id);
          continue;
        }
        this.#tenantBucket(item.tenantId, now).take(now);
        this.#conversationBucket(item, now).take(now);
        const delivery = this.#deliver(item, result).finally(() => {
          this.#inFlight.delete(item.id);
          this.#settledDuringClaim.add(item.id);
          this.#leaseEnds.delete(item.id);
        });
        this.#inFlight.set(item.id, delivery);
      }
    }
    await Promise.allSettled([...this.#inFlight.values()]);
    return result;
  }

  /**
   * Claims due items, oldest first, except those in flight or already queued; no more than the
   * tenant pace can send within half a lease, so claimed items do not sit until they lapse.
   */
  async #due(limit: number, skip: Set<string>): Promise<OutboxRecord[]> {
    const { leaseMs, owner, perTenantPerSecond, maxInFlight } = this.#opts;
    const sendable = Math.max(maxInFlight, Math.floor((perTenantPerSecond * leaseMs) / 2000));
    const now = this.#clock.now();
    // A claim may have read an item as pending just before this instance's own delivery of it
    // marked it sent (the claim and markSent can run on different connections): not a new item.
    const settled = (this.#settledDuringClaim = new Set());
    const rows = await this.#store.claimOutbox(new Date(now), Math.min(MAX_FETCH, Math.min(limit, sendable) + this.#inFlight.size), owner, leaseMs);
    // Claiming renews the lease of this instance's own items too (those already queued).
    for (const i of rows) this.#leaseEnds.set(i.id, now + leaseMs);
    return rows.filter((i) => !this.#inFlight.has(i.id) && !skip.has(i.id) && !settled.has(i.id));
  }

  #tenantBucket(tenantId: string, now: number): TokenBucket {
    let b = this.#tenantBuckets.get(tenantId);
    if (!b) {
      b = new TokenBucket(this.#opts.perTenantPerSecond, this.#opts.tenantBurst, now);
      this.#tenantBuckets.set(tenantId, b);
    }
    return b;
  }

  #conversationBucket(item: Pick<OutboxRecord, 'tenantId' | 'conversationId'>, now: number): TokenBucket {
    const key = `${item.tenantId}\n${item.conversationId}`;
    let b = this.#conversationBuckets.get(key);
    if (!b) {
      b = new TokenBucket(this.#opts.perConversationPerSecond, 1, now);
      this.#conversationBuckets.set(key, b);
    }
    return b;
  }

  async #deliver(item: OutboxRecord, result: DrainResult): Promise<void> {
    const log = { outboxId: item.id, kind: item.kind, tenantId: item.tenantId, attempt: item.attempts + 1 };
    try {
      const conversation = await this.#store.getConversation(item.tenantId, item.conversationId);
      if (!conversation) {
        if (await this.#end(item, log, (owner) => this.#store.markFailed(item.id, 'conversation not stored any more (bot removed)', owner))) {
          result.failed++;
          this.#logger.warn(log, 'notifier: conversation gone; message dropped');
        }
        return;
      }
      const verdict = this.#mayReceive ? await this.#mayReceive(conversation, item) : true;
      if (verdict !== true) {
        if (await this.#end(item, log, (owner) => this.#store.markFailed(item.id, verdict, owner))) {
          result.failed++;
          this.#logger.info({ ...log, reason: verdict }, 'notifier: not for its recipient any more; message dropped');
        }
        return;
      }
      let activity: OutgoingActivity;
      try {
        activity = activityFromPayload(item.payload);
      } catch {
        if (await this.#end(item, log, (owner) => this.#store.markFailed(item.id, 'payload is not a card this bot can build', owner))) {
          result.failed++;
          this.#logger.error(log, 'notifier: unreadable outbox payload');
        }
        return;
      }
      try {
        await this.#send(conversation, activity);
      } catch (err) {
        await this.#failed(item, err, result, log);
        return;
      }
      const at = new Date(this.#clock.now());
      if (await this.#end(item, log, (owner) => this.#store.markSent(item.id, at, owner))) result.sent++;
    } catch (err) {
      // A store error: the item stays pending and is picked up again by a later drain.
      this.#logger.error({ ...log, err: loggableError(err) }, 'notifier: store error while delivering');
    }
  }

  async #failed(item: OutboxRecord, err: unknown, result: DrainResult, log: Record<string, unknown>): Promise<void> {
    const now = this.#clock.now();
    const failure = classifySendError(err, now);
    const attempt = item.attempts + 1;
    if (failure.retryable && attempt < this.#opts.maxAttempts) {
      const delay = this.#backoff(attempt, failure.retryAfterMs);
      if (failure.status === 429) {
        const until = now + (failure.retryAfterMs ?? delay);
        this.#conversationBucket(item, now).block(until);
        this.#tenantBucket(item.tenantId, now).block(until);
      }
      if (!(await this.#end(item, log, (owner) => this.#store.markRetry(item.id, new Date(now + delay), failure.summary, owner)))) return;
      result.retried++;
      this.#logger.info(
        { ...log, status: failure.status, retryInMs: delay, err: loggableError(err, { stack: false }) },
        'notifier: send throttled or failed; will retry',
      );
    } else {
      if (!(await this.#end(item, log, (owner) => this.#store.markFailed(item.id, failure.summary, owner)))) return;
      result.failed++;
      this.#logger.warn(
        { ...log, status: failure.status, error: failure.summary, err: loggableError(err, { stack: false }) },
        'notifier: giving up on message',
      );
    }
  }

  /**
   * Ends an item in the name of this instance. False when its lease was lost meanwhile (another
   * instance claimed it after this one's lease ran out): that instance's progress stands, so this
   * one only notes it and moves on (docs/scale-out.md).
   */
  async #end(item: OutboxRecord, log: Record<string, unknown>, mark: (owner: string) => Promise<boolean>): Promise<boolean> {
    if (await mark(this.#opts.owner)) return true;
    this.#logger.warn(log, 'notifier: lease lost to another instance; leaving the message to it');
    return false;
  }

  /** Exponential backoff with "equal jitter", never shorter than Retry-After. */
  #backoff(attempt: number, retryAfterMs?: number): number {
    const exp = Math.min(this.#opts.maxDelayMs, this.#opts.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exp / 2 + (this.#random() * exp) / 2;
    return Math.round(Math.max(Math.min(this.#opts.maxDelayMs, jittered), retryAfterMs ?? 0));
  }
}
