/** The bot's view of the product (createBotServices) over a real store. */
import type { AdminService } from '../../src/services/admin';
import { createBotServices } from '../../src/services/bot-services';
import type { Store } from '../../src/store/types';
import { TENANT, connection, openTestStore } from '../helpers/bot-kit';

describe('createBotServices', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openTestStore();
    await store.ensureTenant(TENANT);
  });
  afterEach(async () => {
    await store.close();
  });

  const services = () =>
    createBotServices({
      store,
      // Only its listing of every connection is used here.
      admin: {
        async *allConnections(tenantId: string) {
          yield* (await store.queryConnections(tenantId, { limit: 1000 })).items;
        },
      } as unknown as AdminService,
      tabEndpoint: 'https://cc.example',
      adminRule: { proofMaxDays: 7 } as Parameters<typeof createBotServices>[0]['adminRule'],
      now: () => new Date('2026-12-01T09:00:00Z'),
    });

  it("says whether a waiting nudge is still due from the user's connections as stored now", async () => {
    await store.importConnections([
      connection('alex.wilber@contoso.com', 'ews-basic', 'connected'),
      connection('alex.wilber@contoso.com', 'graph-delegated', 'needs-reconnect'),
      connection('lee.gu@contoso.com', 'ews-basic', 'connected'),
    ]);
    const s = services();
    expect(await s.nudgeStillDue(TENANT.toUpperCase(), 'Alex.Wilber@contoso.com', 'connection.lost')).toBe(true);
    expect(await s.nudgeStillDue(TENANT, 'lee.gu@contoso.com', 'reconnect.nudge')).toBe(true);
    expect(await s.nudgeStillDue(TENANT, 'nobody@contoso.com', 'reconnect.nudge')).toBe(true);
    // Alex reconnects: neither kind of nudge asks anything of them now.
    await store.putConnection(connection('alex.wilber@contoso.com', 'graph-delegated', 'connected', { updatedAt: '2026-12-01T08:00:00.000Z' }));
    expect(await s.nudgeStillDue(TENANT, 'alex.wilber@contoso.com', 'connection.lost')).toBe(false);
    expect(await s.nudgeStillDue(TENANT, 'alex.wilber@contoso.com', 'reconnect.nudge')).toBe(false);
  });

  it('names for `remind` the users still to move, not those already on Microsoft Graph', async () => {
    await store.importConnections([
      // Moved: only an EWS record left behind.
      connection('megan.bowen@contoso.com', 'ews-basic', 'connected'),
      connection('megan.bowen@contoso.com', 'graph-delegated', 'connected'),
      connection('alex.wilber@contoso.com', 'ews-basic', 'connected'),
      connection('lee.gu@contoso.com', 'graph-delegated', 'needs-reconnect'),
      connection('grady.archie@contoso.com', 'ews-oauth', 'disconnected'),
    ]);
    const named = await services().usersToNudge(TENANT);
    expect(named.map((c) => [c.upn, c.kind]).sort()).toEqual([
      ['alex.wilber@contoso.com', 'ews-basic'],
      ['lee.gu@contoso.com', 'graph-delegated'],
    ]);
  });
});
