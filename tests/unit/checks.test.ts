/**
 * The monitor's rules and pacing: which state changes matter, how probe answers become per-feature
 * results and a state, and how the sweep keeps to Exchange's limits (20 per $batch, 4 in flight per
 * mailbox, Retry-After for the throttled mailbox only) against a stand-in $batch endpoint.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appOnlyVerdict, changeKind, delegatedVerdict, featureOutcomes, nudgesUser, probesFor } from '../../src/domain/checks';
import { MailboxPacer, Sweep, type SweepAnswer, type SweepJob } from '../../src/graph/batch';

const ALL_SCOPES = ['openid', 'User.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite', 'Tasks.ReadWrite'];

describe('change detection', () => {
  it.each([
    ['connected', 'needs-reconnect', 'broke'],
    ['connected', 'missing-permissions', 'broke'],
    ['connected', 'failing', 'broke'],
    ['unknown', 'needs-reconnect', 'broke'],
    ['needs-reconnect', 'connected', 'recovered'],
    ['failing', 'connected', 'recovered'],
    ['connected', 'unknown', undefined],
    ['unknown', 'connected', undefined],
    ['failing', 'needs-reconnect', undefined],
    ['connected', 'connected', undefined],
  ] as const)('%s → %s is %s', (from, to, kind) => {
    expect(changeKind(from, to)).toBe(kind);
  });

  it('nudges only a user whose own delegated connection broke', () => {
    expect(nudgesUser('graph-delegated', 'connected', 'needs-reconnect')).toBe(true);
    expect(nudgesUser('graph-app', 'connected', 'failing')).toBe(false);
    expect(nudgesUser('graph-delegated', 'connected', 'unknown')).toBe(false);
    expect(nudgesUser('graph-delegated', 'needs-reconnect', 'needs-reconnect')).toBe(false);
  });
});

describe('per-feature state', () => {
  const enabled = ['emailSync', 'calendarSync', 'calendarScheduling', 'taskSync'] as const;

  it('probes each distinct resource once for the features', () => {
    expect(probesFor(['emailSync', 'calendarScheduling'])).toEqual(['inbox', 'calendar', 'events']);
  });

  it('a failed probe fails only the features that read it', () => {
    const out = featureOutcomes(enabled, (p) => (p === 'todoLists' ? 'ACCESS_DENIED' : undefined));
    expect(out).toEqual({
      emailSync: { ok: true },
      calendarSync: { ok: true },
      calendarScheduling: { ok: true },
      taskSync: { ok: false, code: 'ACCESS_DENIED' },
    });
  });

  it('a throttled feature is unknown, never broken, while the others keep their result', () => {
    const v = delegatedVerdict({ enabled, grantedScopes: ALL_SCOPES, probeCode: (p) => (p === 'calendar' ? 'THROTTLED' : undefined) });
    expect(v.state).toBe('unknown');
    expect(v.code).toBe('THROTTLED');
    expect(v.features).toMatchObject({ emailSync: { ok: true }, calendarSync: { ok: false, code: 'THROTTLED' }, taskSync: { ok: true } });
  });

  it('a definite failure decides over an inconclusive one', () => {
    const v = delegatedVerdict({
      enabled,
      grantedScopes: ALL_SCOPES,
      probeCode: (p) => (p === 'calendar' ? 'GRAPH_UNAVAILABLE' : p === 'inbox' ? 'MAILBOX_NOT_REST_ENABLED' : undefined),
    });
    expect(v).toMatchObject({ state: 'failing', code: 'MAILBOX_NOT_REST_ENABLED' });
  });

  it('a revoked refresh token is needs-reconnect for every granted feature; an outage is unknown', () => {
    expect(delegatedVerdict({ enabled, grantedScopes: ALL_SCOPES, tokenCode: 'REFRESH_TOKEN_REVOKED' })).toMatchObject({
      state: 'needs-reconnect',
      code: 'REFRESH_TOKEN_REVOKED',
      features: { emailSync: { ok: false, code: 'REFRESH_TOKEN_REVOKED' } },
    });
    expect(delegatedVerdict({ enabled, grantedScopes: ALL_SCOPES, tokenCode: 'GRAPH_UNAVAILABLE' }).state).toBe('unknown');
  });

  it('a feature never granted reads as missing without failing the connection', () => {
    const v = delegatedVerdict({ enabled, grantedScopes: ['openid', 'Mail.ReadWrite', 'Calendars.ReadWrite'] });
    expect(v.state).toBe('missing-permissions');
    expect(v.code).toBeUndefined();
    expect(v.features.taskSync).toEqual({ ok: false, code: 'PERMISSION_MISSING' });
    expect(v.features.emailSync).toEqual({ ok: true });
  });

  it('app-only: the access policy fails, a missing role is missing-permissions, Task Sync is not checked', () => {
    expect(appOnlyVerdict({ features: ['emailSync', 'taskSync'], probeCode: () => 'ACCESS_POLICY_DENIED' })).toEqual({
      state: 'failing',
      code: 'ACCESS_POLICY_DENIED',
      features: { emailSync: { ok: false, code: 'ACCESS_POLICY_DENIED' } },
    });
    expect(appOnlyVerdict({ features: ['calendarSync'], probeCode: () => 'ACCESS_DENIED' }).state).toBe('missing-permissions');
    expect(appOnlyVerdict({ features: ['calendarSync'], tokenCode: 'GRAPH_UNAVAILABLE' }).state).toBe('unknown');
  });
});

describe('MailboxPacer', () => {
  it('gives a mailbox at most 4 slots, holds one back for its Retry-After only, and keeps a budget per window', () => {
    let now = 1_000_000;
    const pacer = new MailboxPacer({ budget: 6, windowMs: 60_000, now: () => now });
    expect(pacer.slots('a')).toBe(4);
    pacer.acquire('a', 3);
    expect(pacer.slots('a')).toBe(1);
    expect(pacer.slots('a', 1)).toBe(0);
    pacer.release('a', 3);
    pacer.holdUntil('a', now + 2000);
    expect(pacer.readyAt('a')).toBe(now + 2000);
    expect(pacer.slots('a')).toBe(0);
    expect(pacer.slots('b')).toBe(4);
    now += 2000;
    expect(pacer.slots('a')).toBe(4);
    // 3 used so far in this window, budget 6: three more, then wait for the window to turn.
    pacer.acquire('a', 3);
    pacer.release('a', 3);
    expect(pacer.readyAt('a')).toBe(1_000_000 + 60_000);
    now = 1_000_000 + 60_000;
    expect(pacer.readyAt('a')).toBe(0);
  });

  it('remembers only the mailboxes of the current window, however many were paced before', () => {
    let now = 1_000_000;
    const pacer = new MailboxPacer({ windowMs: 60_000, now: () => now });
    for (let i = 0; i < 5000; i++) {
      pacer.acquire(`old${i}`, 1);
      pacer.release(`old${i}`, 1);
    }
    pacer.acquire('busy', 1);
    expect(pacer.size).toBeGreaterThan(4000);
    now += 60_000;
    for (let i = 0; i < 5000; i++) {
      pacer.acquire(`new${i}`, 1);
      pacer.release(`new${i}`, 1);
    }
    // The previous window's mailboxes are gone; the one still in flight is kept with its count.
    expect(pacer.size).toBeLessThanOrEqual(5001 + 1024);
    expect(pacer.slots('busy')).toBe(3);
    // A new window's budget still holds for the mailboxes used in it.
    expect(pacer.slots('new1', 0)).toBe(4);
  });
});

/** A $batch endpoint that answers each sub-request through `answer` and records what it saw. */
async function fakeGraph(answer: (mailbox: string, attempt: number) => { status: number; retryAfter?: number }) {
  const seen = { batches: [] as string[][], maxInFlight: new Map<string, number>(), sentAt: new Map<string, number[]>() };
  const inFlight = new Map<string, number>();
  const attempts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const { requests } = JSON.parse(raw) as { requests: Array<{ id: string; url: string }> };
      const mailboxes = requests.map((r) => decodeURIComponent(r.url.split('/')[2]));
      seen.batches.push(mailboxes);
      for (const m of mailboxes) {
        inFlight.set(m, (inFlight.get(m) ?? 0) + 1);
        seen.maxInFlight.set(m, Math.max(seen.maxInFlight.get(m) ?? 0, inFlight.get(m)!));
        seen.sentAt.set(m, [...(seen.sentAt.get(m) ?? []), Date.now()]);
      }
      // Answer later, so that batches overlap in flight.
      setTimeout(() => {
        const responses = requests.map((r, i) => {
          const m = mailboxes[i];
          inFlight.set(m, inFlight.get(m)! - 1);
          const key = `${m}|${r.url}`;
          const n = (attempts.get(key) ?? 0) + 1;
          attempts.set(key, n);
          const a = answer(m, n);
          return {
            id: r.id,
            status: a.status,
            headers: a.retryAfter !== undefined ? { 'Retry-After': String(a.retryAfter) } : {},
            body: a.status >= 400 ? { error: { code: a.status === 429 ? 'ApplicationThrottled' : 'serviceNotAvailable', message: 'x' } } : { id: 'x' },
          };
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ responses }));
      }, 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function jobs(mailboxes: string[], perMailbox: number, token = 'app-token'): { list: SweepJob[]; answers: Map<string, SweepAnswer[]> } {
  const answers = new Map<string, SweepAnswer[]>();
  const list = mailboxes.map((m) => ({
    mailbox: `app|${m}`,
    accessToken: token,
    requests: Array.from({ length: perMailbox }, (_, i) => ({ id: `p${i}`, url: `/users/${encodeURIComponent(m)}/probe${i}` })),
    done: (a: SweepAnswer[]) => {
      answers.set(m, a);
    },
  }));
  return { list, answers };
}

describe('Sweep', () => {
  it('packs up to 20 requests per $batch and never has more than 4 in flight per mailbox', async () => {
    const g = await fakeGraph(() => ({ status: 200 }));
    try {
      const mailboxes = Array.from({ length: 40 }, (_, i) => `m${i}@contoso.example`);
      const { list, answers } = jobs(mailboxes, 6);
      const sweep = new Sweep({ graphEndpoint: g.url, pacer: new MailboxPacer(), maxBatchesInFlight: 8 });
      sweep.add(list);
      await sweep.idle();
      expect(answers.size).toBe(40);
      expect([...answers.values()].every((a) => a.length === 6 && a.every((x) => x.status === 200 && !x.code))).toBe(true);
      expect(Math.max(...g.seen.batches.map((b) => b.length))).toBe(20);
      expect(Math.max(...g.seen.maxInFlight.values())).toBeLessThanOrEqual(4);
      expect(sweep.stats).toMatchObject({ requests: 240, throttled: 0, retried: 0 });
      expect(sweep.stats.batches).toBe(g.seen.batches.length);
      // The fake answers each batch 5 ms after reading it (a timer may fire up to 1 ms early).
      expect(sweep.stats.roundTripMs).toBeGreaterThanOrEqual(4 * sweep.stats.batches);
    } finally {
      await g.close();
    }
  });

  it('holds back only the throttled mailbox for its Retry-After while the others go on', async () => {
    const g = await fakeGraph((m, attempt) => (m === 'slow@contoso.example' && attempt === 1 ? { status: 429, retryAfter: 1 } : { status: 200 }));
    try {
      const mailboxes = ['slow@contoso.example', ...Array.from({ length: 60 }, (_, i) => `m${i}@contoso.example`)];
      const { list, answers } = jobs(mailboxes, 1);
      const sweep = new Sweep({ graphEndpoint: g.url, pacer: new MailboxPacer(), maxBatchesInFlight: 1 });
      sweep.add(list);
      await sweep.idle();
      expect(answers.get('slow@contoso.example')).toEqual([{ id: 'p0', status: 200 }]);
      const [first, retry] = g.seen.sentAt.get('slow@contoso.example')!;
      expect(retry - first).toBeGreaterThanOrEqual(1000);
      // Every other mailbox was sent before the throttled one was tried again.
      for (let i = 0; i < 60; i++) expect(g.seen.sentAt.get(`m${i}@contoso.example`)![0]).toBeLessThan(retry);
      expect(sweep.stats).toMatchObject({ throttled: 1, retried: 1, requests: 62 });
    } finally {
      await g.close();
    }
  });

  it('ends a request THROTTLED or GRAPH_UNAVAILABLE when it outlives its retries', async () => {
    const g = await fakeGraph((m) => (m === 'busy@contoso.example' ? { status: 429, retryAfter: 0 } : { status: 503 }));
    try {
      const { list, answers } = jobs(['busy@contoso.example', 'down@contoso.example'], 1);
      const sweep = new Sweep({ graphEndpoint: g.url, pacer: new MailboxPacer(), maxAttempts: 3, retryBaseMs: 1 });
      sweep.add(list);
      await sweep.idle();
      expect(answers.get('busy@contoso.example')).toEqual([{ id: 'p0', status: 429, code: 'THROTTLED' }]);
      expect(answers.get('down@contoso.example')).toEqual([{ id: 'p0', status: 503, code: 'GRAPH_UNAVAILABLE' }]);
      expect(g.seen.sentAt.get('busy@contoso.example')).toHaveLength(3);
    } finally {
      await g.close();
    }
  });

  it('batches a delegated token only with its own requests', async () => {
    const g = await fakeGraph(() => ({ status: 200 }));
    try {
      const a = jobs(['a@contoso.example'], 3, 'token-a');
      const b = jobs(['b@contoso.example'], 3, 'token-b');
      const sweep = new Sweep({ graphEndpoint: g.url, pacer: new MailboxPacer() });
      sweep.add([...a.list, ...b.list]);
      await sweep.idle();
      expect(g.seen.batches.map((x) => [...new Set(x)])).toEqual([['a@contoso.example'], ['b@contoso.example']]);
    } finally {
      await g.close();
    }
  });
});
