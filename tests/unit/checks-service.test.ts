/**
 * The monitor's bookkeeping without any network: connections that need no Graph call (no service
 * account saved), the events a run emits, a store that cannot record, and the schedule.
 */
import { createLogger } from '../../src/log';
import { MailboxPacer, Sweep } from '../../src/graph/batch';
import { CheckService, type CheckDigest } from '../../src/services/checks';
import type { ConnectionRecord, Store } from '../../src/store/types';
import { openTestStore } from '../helpers/bot-kit';

const TENANT = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const T0 = new Date('2026-11-26T10:00:00Z');

function appOnly(upn: string, tenantId = TENANT): ConnectionRecord {
  return { tenantId, upn, kind: 'graph-app', state: 'connected', grantedScopes: [], createdAt: T0.toISOString(), updatedAt: T0.toISOString() };
}

function service(store: Store, now = () => T0) {
  const digests: CheckDigest[] = [];
  const lost: string[] = [];
  const checks = new CheckService({
    store,
    auth: { acquireSilent: () => Promise.reject(new Error('no network in this test')) },
    appToken: () => Promise.reject(new Error('no network in this test')),
    pacer: new MailboxPacer(),
    sweep: (pacer) => new Sweep({ graphEndpoint: 'https://graph.invalid', pacer }),
    events: {
      connectionLost: async (_t, c) => void lost.push(c.upn),
      runFinished: async (_t, d) => void digests.push(d),
    },
    logger: createLogger({ level: 'silent' }),
    now,
  });
  return { checks, digests, lost };
}

describe('CheckService', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openTestStore();
    await store.ensureTenant(TENANT);
    await store.importConnections([appOnly('a@contoso.example'), appOnly('b@contoso.example'), { ...appOnly('c@contoso.example'), state: 'disconnected' }]);
  });
  afterEach(async () => {
    await store.close();
  });

  it('checks every live connection once, says why it cannot reach them, and sends the admins one digest', async () => {
    const { checks, digests, lost } = service(store);
    const { started, run } = await checks.start(TENANT, 'admin@contoso.example');
    expect(started).toBe(true);
    expect(run.total).toBe(2);
    await checks.settled(TENANT);
    const latest = await checks.latest(TENANT);
    expect(latest).toMatchObject({ status: 'done', checked: 2, total: 2, byState: { failing: 2 } });
    expect(latest!.changes.map((c) => [c.upn, c.from, c.to, c.code])).toEqual([
      ['a@contoso.example', 'connected', 'failing', 'SERVICE_ACCOUNT_NOT_CONFIGURED'],
      ['b@contoso.example', 'connected', 'failing', 'SERVICE_ACCOUNT_NOT_CONFIGURED'],
    ]);
    expect(digests).toHaveLength(1);
    expect(digests[0]).toMatchObject({ runId: run.id, broke: [{ upn: 'a@contoso.example' }, { upn: 'b@contoso.example' }], recovered: [], onExchange: 0 });
    // Nobody to nudge: a service-account connection is the admin's to fix.
    expect(lost).toEqual([]);
  });

  it('does not bring back a connection removed while it was checked, nor overwrite one changed meanwhile', async () => {
    const changed = { ...appOnly('b@contoso.example'), displayName: 'Changed meanwhile', updatedAt: new Date(T0.getTime() + 1000).toISOString() };
    // The run reads its page, then a is removed and b rewritten before the results are recorded.
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === 'pendingCheckWork') {
          return async (...args: Parameters<Store['pendingCheckWork']>) => {
            const work = await target.pendingCheckWork(...args);
            if (work.length > 0) {
              await target.deleteConnection(TENANT, 'a@contoso.example', 'graph-app');
              await target.putConnection(changed);
            }
            return work;
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { checks, digests } = service(racing);
    await checks.start(TENANT, 'admin@contoso.example');
    await checks.settled(TENANT);
    expect(await store.getConnections(TENANT, 'a@contoso.example')).toEqual([]);
    expect(await store.getConnections(TENANT, 'b@contoso.example')).toEqual([changed]);
    expect(await checks.latest(TENANT)).toMatchObject({ status: 'done', checked: 2, total: 2, changes: [] });
    expect(digests).toEqual([]);
  });

  it('nudges a user whose connection it found broken, but not one who reconnected before the run finished', async () => {
    const delegated = (upn: string): ConnectionRecord => ({ ...appOnly(upn), kind: 'graph-delegated', grantedScopes: ['Mail.ReadWrite'] });
    // No token-cache partition: their refresh token cannot be redeemed, so both need to reconnect.
    await store.importConnections([delegated('d@contoso.example'), delegated('e@contoso.example')]);
    const reconnected = { ...delegated('e@contoso.example'), updatedAt: new Date(T0.getTime() + 60_000).toISOString() };
    // e reconnects after the check of their connection, before the run sends anything.
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === 'checkRunOutcome') {
          return async (...args: Parameters<Store['checkRunOutcome']>) => {
            await target.putConnection(reconnected);
            return target.checkRunOutcome(...args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { checks, digests, lost } = service(racing);
    await checks.start(TENANT, 'admin@contoso.example');
    await checks.settled(TENANT);
    expect(
      (await checks.latest(TENANT))!.changes.filter((c) => ['d@contoso.example', 'e@contoso.example'].includes(c.upn)).map((c) => [c.upn, c.to, c.code]),
    ).toEqual([
      ['d@contoso.example', 'needs-reconnect', 'REFRESH_TOKEN_REVOKED'],
      ['e@contoso.example', 'needs-reconnect', 'REFRESH_TOKEN_REVOKED'],
    ]);
    expect(lost).toEqual(['d@contoso.example']);
    // The admins' digest still says what the run saw.
    expect(digests[0]!.broke.map((b) => b.upn)).toEqual(expect.arrayContaining(['d@contoso.example', 'e@contoso.example']));
  });

  it('ends a run as failed when nothing can be recorded, instead of trying forever', async () => {
    const broken = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'completeCheckItem' || prop === 'completeCheckItems') return () => Promise.reject(new Error('disk full'));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { checks, digests } = service(broken);
    await checks.start(TENANT, 'admin@contoso.example');
    await checks.settled(TENANT);
    expect(await checks.latest(TENANT)).toMatchObject({ status: 'failed', checked: 0, total: 2 });
    expect(digests).toEqual([]);
    // The next run can start.
    expect((await checks.start(TENANT, 'admin@contoso.example')).started).toBe(true);
    await checks.settled(TENANT);
  });

  it('schedules a run for tenants never checked or last checked longer ago than the interval, and only those', async () => {
    await store.ensureTenant(OTHER);
    await store.importConnections([appOnly('x@fabrikam.example', OTHER)]);
    let now = T0;
    const first = service(store, () => now);
    await first.checks.start(OTHER, 'admin@fabrikam.example');
    await first.checks.settled(OTHER);

    now = new Date(T0.getTime() + 5 * 3600_000);
    const { checks } = service(store, () => now);
    await checks.schedule(6);
    await checks.settled(TENANT);
    await checks.stop();
    expect((await checks.latest(TENANT))?.status).toBe('done');
    // OTHER was checked 5 hours ago: not due yet.
    expect((await store.latestCheckRun(OTHER))?.startedAt).toBe(T0.toISOString());

    now = new Date(T0.getTime() + 7 * 3600_000);
    const later = service(store, () => now);
    await later.checks.schedule(6);
    await later.checks.settled(OTHER);
    await later.checks.stop();
    expect((await store.latestCheckRun(OTHER))?.startedAt).toBe(now.toISOString());
    // 0 turns the schedule off.
    const off = service(store, () => new Date(T0.getTime() + 99 * 3600_000));
    await off.checks.schedule(0);
    expect((await store.latestCheckRun(OTHER))?.startedAt).toBe(now.toISOString());
  });

  it('starts no scheduled run before notBefore (a freshly seeded demo), and does once it has passed', async () => {
    let now = T0;
    const { checks } = service(store, () => now);
    await checks.schedule(6, { notBefore: new Date(T0.getTime() + 6 * 3600_000) });
    await checks.stop();
    expect(await store.latestCheckRun(TENANT)).toBeUndefined();

    now = new Date(T0.getTime() + 6 * 3600_000 + 1);
    const later = service(store, () => now);
    await later.checks.schedule(6, { notBefore: new Date(T0.getTime() + 6 * 3600_000) });
    await later.checks.settled(TENANT);
    await later.checks.stop();
    expect((await store.latestCheckRun(TENANT))?.startedAt).toBe(now.toISOString());
  });
});
