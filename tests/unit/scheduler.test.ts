/**
 * The background jobs on a fake clock: each runs when due, an instance whose lease is held by
 * another skips the run, and nothing runs after stop().
 */
import { createLogger } from '../../src/log';
import { Lease } from '../../src/services/lease';
import { DAILY_PERIOD_MS, REACH_PERIOD_MS, Scheduler } from '../../src/services/scheduler';
import { Keyring, SqliteStore } from '../../src/store';

const HOUR = 3600_000;
const LEASE_MS = 30_000;

describe('Scheduler', () => {
  let store: SqliteStore;
  let calls: string[];
  let scheduler: Scheduler | undefined;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-02T08:00:00Z') });
    store = SqliteStore.open(':memory:', Keyring.fromKeys(Buffer.alloc(32, 5)));
    calls = [];
  });
  afterEach(async () => {
    scheduler?.stop();
    scheduler = undefined;
    jest.useRealTimers();
    await store.close();
  });

  const now = () => new Date();
  const build = (options: { delayMs?: number; checkIntervalHours?: number } = {}) =>
    new Scheduler({
      // Leases in the real store (their rules are what is under test); the rest recorded.
      store: {
        tryLease: (...a) => store.tryLease(...a),
        releaseLease: (...a) => store.releaseLease(...a),
        listTenants: async () => [{ tenantId: 't1' }, { tenantId: 't2' }] as Awaited<ReturnType<SqliteStore['listTenants']>>,
        getServiceAccount: async (tenantId) => (tenantId === 't1' ? ({ tenantId } as Awaited<ReturnType<SqliteStore['getServiceAccount']>>) : undefined),
        purgeExpired: async () => {
          calls.push('purge');
          return 0;
        },
      },
      admin: { testSaved: async (tenantId, actor) => void calls.push(`test ${tenantId} by ${actor}`) },
      checks: { schedule: async (hours) => void calls.push(`schedule checks every ${hours} h`) },
      campaign: { tick: async () => void calls.push('reach') },
      bot: () => ({ startNotifier: () => void calls.push('notifier'), runDailyChecks: async (at) => void calls.push(`daily ${at.toISOString()}`) }),
      logger: createLogger({ level: 'silent' }),
      now,
      leaseMs: LEASE_MS,
      checkIntervalHours: options.checkIntervalHours ?? 24,
      delayMs: options.delayMs,
    });
  /** Lets the jobs' promise chains (store calls, leases) settle without moving the clock. */
  const settle = () => jest.advanceTimersByTimeAsync(0);

  it('runs every job at start, then each when its period comes round', async () => {
    scheduler = build();
    scheduler.start();
    await settle();
    // The two jobs run side by side; each in its own order.
    expect(calls.slice(0, 2)).toEqual(['schedule checks every 24 h', 'notifier']);
    expect(calls.filter((c) => c === 'reach')).toHaveLength(1);
    expect(calls.slice(2).filter((c) => c !== 'reach')).toEqual(['test t1 by system', 'daily 2026-11-02T08:00:00.000Z', 'purge']);

    calls = [];
    await jest.advanceTimersByTimeAsync(REACH_PERIOD_MS);
    expect(calls).toEqual(['reach']);

    calls = [];
    await jest.advanceTimersByTimeAsync(DAILY_PERIOD_MS - REACH_PERIOD_MS);
    expect(calls.filter((c) => c === 'reach')).toHaveLength(5);
    expect(calls.filter((c) => c !== 'reach')).toEqual(['test t1 by system', 'daily 2026-11-02T14:00:00.000Z', 'purge']);
  });

  it('skips a run whose lease another instance holds, and runs once it is free again', async () => {
    const other = { store, ttlMs: 2 * HOUR, now, owner: 'another-instance' };
    expect(await Lease.take('daily-checks', other)).toBeDefined();
    expect(await Lease.take('reach-tick', other)).toBeDefined();
    scheduler = build();
    scheduler.start();
    await settle();
    // The notifier serves this instance's own queue; the leased jobs are the other instance's this period.
    expect(calls).toEqual(['schedule checks every 24 h', 'notifier']);

    calls = [];
    await jest.advanceTimersByTimeAsync(REACH_PERIOD_MS);
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(REACH_PERIOD_MS);
    expect(calls).toEqual(['reach']);
  });

  it('starts the periodic jobs only after the delay (a lazily loaded bot)', async () => {
    scheduler = build({ delayMs: 5_000 });
    scheduler.start();
    await settle();
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(4_999);
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.slice(0, 2)).toEqual(['schedule checks every 24 h', 'notifier']);
    expect(calls).toContain('reach');
  });

  it('stops cleanly: no job starts after stop(), not even a delayed start', async () => {
    scheduler = build();
    scheduler.start();
    await settle();
    scheduler.stop();
    calls = [];
    await jest.advanceTimersByTimeAsync(2 * DAILY_PERIOD_MS);
    expect(calls).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);

    const delayed = build({ delayMs: 5_000 });
    delayed.start();
    delayed.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
