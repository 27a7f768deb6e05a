/**
 * Many mailboxes' probes through JSON `$batch` at the pace Exchange Online allows:
 * at most 20 requests per batch, at most 4 in flight per mailbox per app, a budget per mailbox per
 * 10 minutes, and a 429 or 503 (inside the 200 batch, per sub-request) holding back only the
 * mailbox it names for its Retry-After while the others go on. Requests that share an access token
 * (app-only checks of many mailboxes) share batches; a delegated token only batches its own user.
 */
import type { ErrorCode } from '../domain/errors';
import { diagnoseGraphError } from '../domain/diagnosis';
import { BATCH_LIMIT, DEFAULT_FETCH_TIMEOUT_MS, graphErrorFacts } from './client';
import { sendRequest } from './http';

/** Exchange Online: concurrent requests per app per mailbox. */
export const MAILBOX_CONCURRENCY = 4;
/** Exchange Online allows 10,000 per app per mailbox per 10 minutes; stay under it. */
export const MAILBOX_BUDGET = 9_000;
export const MAILBOX_WINDOW_MS = 10 * 60_000;

/**
 * Per (app, mailbox) pacing that outlives a single sweep: requests in flight, the 10-minute budget
 * and any Retry-After the service gave. Keys are opaque (`<app>|<mailbox>`).
 */
export class MailboxPacer {
  readonly #state = new Map<string, { inFlight: number; windowStart: number; used: number; blockedUntil: number }>();
  constructor(private readonly options: { concurrency?: number; budget?: number; windowMs?: number; now?: () => number } = {}) {}

  #of(key: string) {
    let s = this.#state.get(key);
    if (!s) {
      s = { inFlight: 0, windowStart: this.#now(), used: 0, blockedUntil: 0 };
      this.#state.set(key, s);
    }
    return s;
  }
  #now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** When the mailbox can take another request: 0 = now, else the time it is held back until. */
  readyAt(key: string, extra = 0): number {
    const s = this.#state.get(key);
    if (!s) return 0;
    const now = this.#now();
    if (s.blockedUntil > now) return s.blockedUntil;
    const windowMs = this.options.windowMs ?? MAILBOX_WINDOW_MS;
    if (now - s.windowStart >= windowMs) {
      s.windowStart = now;
      s.used = 0;
    }
    if (s.used + extra + 1 > (this.options.budget ?? MAILBOX_BUDGET)) return s.windowStart + windowMs;
    return 0;
  }

  /** Free slots for this mailbox right now (0 when busy, held back or out of budget). */
  slots(key: string, extra = 0): number {
    if (this.readyAt(key, extra) > 0) return 0;
    const s = this.#state.get(key);
    const used = (s?.inFlight ?? 0) + extra;
    return Math.max(0, (this.options.concurrency ?? MAILBOX_CONCURRENCY) - used);
  }

  acquire(key: string, n: number): void {
    if (this.#state.size >= this.#pruneAt) this.#prune();
    const s = this.#of(key);
    s.inFlight += n;
    s.used += n;
  }
  release(key: string, n: number): void {
    const s = this.#state.get(key);
    if (!s) return;
    s.inFlight = Math.max(0, s.inFlight - n);
    if (s.inFlight === 0 && s.blockedUntil <= this.#now() && s.used === 0) this.#state.delete(key);
  }
  /** Retry-After for this mailbox only. */
  holdUntil(key: string, at: number): void {
    const s = this.#of(key);
    s.blockedUntil = Math.max(s.blockedUntil, at);
  }
  get size(): number {
    return this.#state.size;
  }

  /** Pruned when the map reaches this size: it holds only mailboxes with something to remember. */
  #pruneAt = 1024;
  /**
   * Forgets mailboxes whose window has passed with nothing in flight and no Retry-After pending:
   * what is remembered is bounded by the mailboxes used in the last window, however many a
   * long-running process has checked.
   */
  #prune(): void {
    const now = this.#now();
    const windowMs = this.options.windowMs ?? MAILBOX_WINDOW_MS;
    for (const [key, s] of this.#state) if (s.inFlight === 0 && s.blockedUntil <= now && now - s.windowStart >= windowMs) this.#state.delete(key);
    this.#pruneAt = Math.max(1024, this.#state.size * 2);
  }
}

export interface SweepRequest {
  /** Unique within its job. */
  id: string;
  /** Relative to the version root, e.g. `/users/{id}/mailFolders/inbox`. */
  url: string;
}

export interface SweepAnswer {
  id: string;
  /** HTTP status of the sub-request; 0 when no answer came (network, timeout). */
  status: number;
  /** Catalogue code of the failure; absent for a 2xx. */
  code?: ErrorCode;
}

export interface SweepJob {
  /** Pacing key: the app and the mailbox (`<app>|<upn>`). */
  mailbox: string;
  accessToken: string;
  requests: SweepRequest[];
  /** Called once with every request's final answer. */
  done(answers: SweepAnswer[]): void | Promise<void>;
}

export interface SweepOptions {
  graphEndpoint: string;
  pacer: MailboxPacer;
  /** `$batch` requests in flight at once across all mailboxes (default 32). */
  maxBatchesInFlight?: number;
  /** Sends of one request, counting the first (default 5). */
  maxAttempts?: number;
  /** Wait before re-sending after a 5xx or network failure with no Retry-After (default 250 ms, doubling). */
  retryBaseMs?: number;
  /** A Retry-After longer than this is not waited for: the request ends THROTTLED (default 60 s). */
  maxRetryAfterSeconds?: number;
  fetchTimeoutMs?: number;
  now?: () => number;
}

export interface SweepStats {
  /** `$batch` HTTP requests sent. */
  batches: number;
  /** Sub-requests sent, re-sends included. */
  requests: number;
  /** Sub-requests answered 429 (and whole batches answered 429, per sub-request). */
  throttled: number;
  /** Sub-requests sent again after a 429, 5xx or network failure. */
  retried: number;
  /**
   * Milliseconds from sending each `$batch` to having its answer read, summed: divided by `batches`
   * it is the round trip as the sweep saw it (Graph's latency plus waiting on a busy event loop at
   * either end); divided by the sweep's duration, how many batches were in flight on average.
   */
  roundTripMs: number;
}

interface Pending {
  job: SweepJob;
  request: SweepRequest;
  attempts: number;
  notBefore: number;
}

interface JobState {
  left: number;
  answers: SweepAnswer[];
}

function retryAfterMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isNaN(n)) return Math.max(0, n * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function headerOf(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** How far ahead in the queue a batch looks for requests it can take along. */
const LOOKAHEAD = 400;

/**
 * A queue of probe jobs, sent as `$batch` requests within the pacer's limits. Add jobs at any time;
 * `idle()` resolves when everything added so far is answered.
 */
export class Sweep {
  readonly stats: SweepStats = { batches: 0, requests: 0, throttled: 0, retried: 0, roundTripMs: 0 };
  #queue: Pending[] = [];
  #delayed: Pending[] = [];
  #inFlight = 0;
  #jobs = new Map<SweepJob, JobState>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #idle: Array<() => void> = [];
  #callbacks = new Set<Promise<void>>();
  #stopped = false;
  #pumpScheduled = false;

  constructor(private readonly options: SweepOptions) {}

  #now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Jobs not answered yet. */
  get pendingJobs(): number {
    return this.#jobs.size;
  }

  add(jobs: readonly SweepJob[]): void {
    for (const job of jobs) {
      if (job.requests.length === 0) {
        this.#settle(job, []);
        continue;
      }
      this.#jobs.set(job, { left: job.requests.length, answers: [] });
      for (const request of job.requests) this.#queue.push({ job, request, attempts: 0, notBefore: 0 });
    }
    // Jobs added one after another in the same tick fill the same batches.
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      setImmediate(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
  }

  /** Resolves when every job added so far is answered and its `done` has finished. */
  async idle(): Promise<void> {
    while (this.#jobs.size > 0 || this.#callbacks.size > 0) {
      if (this.#jobs.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      else await Promise.all([...this.#callbacks]);
    }
  }

  /** Stops sending; jobs not answered yet are dropped without their `done`. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#queue = [];
    this.#delayed = [];
    this.#jobs.clear();
    for (const r of this.#idle.splice(0)) r();
  }

  #pump(): void {
    if (this.#stopped) return;
    const max = this.options.maxBatchesInFlight ?? 32;
    this.#promoteDelayed();
    while (this.#inFlight < max && this.#queue.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) break;
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    this.#armTimer();
  }

  /** Moves delayed requests whose time has come back to the front of the queue. */
  #promoteDelayed(): void {
    if (this.#delayed.length === 0) return;
    const now = this.#now();
    const due: Pending[] = [];
    const later: Pending[] = [];
    for (const p of this.#delayed) (p.notBefore <= now ? due : later).push(p);
    if (due.length) {
      this.#delayed = later;
      this.#queue = due.concat(this.#queue);
    }
  }

  #armTimer(): void {
    if (this.#delayed.length === 0 || this.#stopped) return;
    const next = Math.min(...this.#delayed.map((p) => p.notBefore));
    if (this.#timer && this.#timerAt <= next) return;
    clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = 0;
        this.#pump();
      },
      Math.max(1, next - this.#now()),
    );
  }

  /**
   * Up to 20 requests that share one token, at most the mailbox's free slots per mailbox. Requests
   * of a mailbox that is held back move to the delayed list.
   */
  #take(): Pending[] {
    const pacer = this.options.pacer;
    const taken: Pending[] = [];
    const perMailbox = new Map<string, number>();
    let token: string | undefined;
    const keep: Pending[] = [];
    let scanned = 0;
    let i = 0;
    for (; i < this.#queue.length && taken.length < BATCH_LIMIT && scanned < LOOKAHEAD; i++) {
      const p = this.#queue[i];
      if (token !== undefined && p.job.accessToken !== token) {
        keep.push(p);
        scanned++;
        continue;
      }
      const key = p.job.mailbox;
      const inBatch = perMailbox.get(key) ?? 0;
      const ready = pacer.readyAt(key, inBatch);
      if (ready > 0) {
        p.notBefore = ready;
        this.#delayed.push(p);
        continue;
      }
      if (pacer.slots(key, inBatch) === 0) {
        keep.push(p);
        scanned++;
        continue;
      }
      token ??= p.job.accessToken;
      perMailbox.set(key, inBatch + 1);
      taken.push(p);
    }
    this.#queue = keep.concat(this.#queue.slice(i));
    for (const [key, n] of perMailbox) pacer.acquire(key, n);
    if (taken.length === 0 && this.#queue.length > 0 && this.#inFlight === 0 && this.#delayed.length === 0) {
      // Everything left waits on mailboxes busy with nothing in flight: cannot happen unless the
      // pacer is shared with another sweep; look again shortly.
      for (const p of this.#queue) p.notBefore = this.#now() + 50;
      this.#delayed.push(...this.#queue);
      this.#queue = [];
    }
    return taken;
  }

  async #send(batch: Pending[]): Promise<void> {
    const pacer = this.options.pacer;
    const ids = batch.map((_, i) => String(i));
    const payload = { requests: batch.map((p, i) => ({ id: ids[i], method: 'GET', url: p.request.url })) };
    this.stats.batches++;
    this.stats.requests += batch.length;
    let answers: Array<{ status: number; headers?: Record<string, string>; body?: unknown }>;
    const sentAt = performance.now();
    try {
      const res = await sendRequest('POST', `${this.options.graphEndpoint.replace(/\/+$/, '')}/v1.0/$batch`, {
        headers: { authorization: `Bearer ${batch[0].job.accessToken}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(payload),
        timeoutMs: this.options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
      });
      const text = res.text;
      if (res.status !== 200) {
        // The batch as a whole failed: every request in it shares that answer.
        const headers: Record<string, string> = {};
        if (res.headers['retry-after']) headers['retry-after'] = res.headers['retry-after'];
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        answers = batch.map(() => ({ status: res.status, headers, body }));
      } else {
        const parsed = JSON.parse(text) as { responses?: Array<{ id?: unknown; status?: unknown; headers?: Record<string, string>; body?: unknown }> };
        const byId = new Map((parsed.responses ?? []).map((r) => [String(r.id), r]));
        answers = ids.map((id) => {
          const r = byId.get(id);
          return r ? { status: Number(r.status) || 0, headers: r.headers, body: r.body } : { status: 0 };
        });
      }
    } catch {
      answers = batch.map(() => ({ status: 0 }));
    } finally {
      this.stats.roundTripMs += performance.now() - sentAt;
      const counts = new Map<string, number>();
      for (const p of batch) counts.set(p.job.mailbox, (counts.get(p.job.mailbox) ?? 0) + 1);
      for (const [key, n] of counts) pacer.release(key, n);
    }
    const now = this.#now();
    const maxAttempts = this.options.maxAttempts ?? 5;
    const capMs = (this.options.maxRetryAfterSeconds ?? 60) * 1000;
    batch.forEach((p, i) => {
      const a = answers[i];
      p.attempts++;
      const transient = a.status === 429 || a.status === 0 || a.status >= 500;
      if (a.status === 429) this.stats.throttled++;
      if (transient && p.attempts < maxAttempts) {
        const ra = retryAfterMs(headerOf(a.headers, 'retry-after'));
        const wait = ra ?? (a.status === 429 ? 1000 : (this.options.retryBaseMs ?? 250) * 2 ** (p.attempts - 1));
        if (wait <= capMs) {
          // 429 and 503 name the mailbox that is busy: hold back only that one.
          if (ra !== undefined) pacer.holdUntil(p.job.mailbox, now + wait);
          p.notBefore = now + wait;
          this.#delayed.push(p);
          this.stats.retried++;
          return;
        }
      }
      const code = a.status >= 200 && a.status < 300 ? undefined : diagnoseGraphError(graphErrorFacts(a.status, a.body));
      this.#answer(p, { id: p.request.id, status: a.status, ...(code ? { code } : {}) });
    });
  }

  #answer(p: Pending, answer: SweepAnswer): void {
    const state = this.#jobs.get(p.job);
    if (!state) return;
    state.answers.push(answer);
    state.left--;
    if (state.left === 0) {
      this.#jobs.delete(p.job);
      const order = new Map(p.job.requests.map((r, i) => [r.id, i]));
      this.#settle(
        p.job,
        state.answers.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0)),
      );
    }
  }

  #settle(job: SweepJob, answers: SweepAnswer[]): void {
    const cb = Promise.resolve()
      .then(() => job.done(answers))
      .catch(() => undefined);
    this.#callbacks.add(cb);
    void cb.finally(() => {
      this.#callbacks.delete(cb);
      this.#wakeIdle();
    });
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    if (this.#jobs.size === 0) for (const r of this.#idle.splice(0)) r();
  }
}
