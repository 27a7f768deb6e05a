/**
 * The Store contract, written once against the interface (src/store/types.ts). Every
 * implementation runs it through `describeStoreContract(name, factory)`; the factory returns a
 * fresh, empty store for each test and a cleanup that closes and removes it.
 */
import type {
  AuthStateRecord,
  CheckRunRecord,
  ConnectionRecord,
  ConversationRecord,
  NewOutboxItem,
  ServiceAccountRecord,
  ServiceAccountTestRecord,
  SessionRecord,
  Store,
  UserRecord,
} from '../../src/store/types';
import type { ConnectionKind, ConnectionState } from '../../src/domain/connection';
import { FEATURES } from '../../src/domain/features';

export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

export const TENANT_A = '11111111-1111-4111-8111-111111111111';
export const TENANT_B = '22222222-2222-4222-8222-222222222222';
const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const iso = (offsetMs = 0) => new Date(T0 + offsetMs).toISOString();
const MIN = 60_000;

export function aConnection(over: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    tenantId: TENANT_A,
    upn: 'adele@contoso.example',
    kind: 'graph-delegated',
    state: 'connected',
    grantedScopes: ['openid', 'Mail.ReadWrite'],
    createdAt: iso(),
    updatedAt: iso(),
    ...over,
  };
}

export function aServiceAccount(over: Partial<ServiceAccountRecord> = {}): ServiceAccountRecord {
  return {
    tenantId: TENANT_A,
    tenant: 'contoso.example',
    clientId: '33333333-3333-4333-8333-333333333333',
    clientSecret: 'Qx8~kP2.sEcReT-vAlUe_4f9b0c7e1d',
    secretHint: 'Qx8',
    secretExpiresAt: '2027-01-31',
    testAccount: 'test@contoso.example',
    features: ['emailSync', 'calendarSync'],
    updatedAt: iso(),
    updatedBy: 'admin@contoso.example',
    ...over,
  };
}

export function anAuthState(over: Partial<AuthStateRecord> = {}): AuthStateRecord {
  return {
    state: 'st-' + Math.random().toString(36).slice(2),
    tenantId: TENANT_A,
    oid: 'oid-adele',
    upn: 'adele@contoso.example',
    codeVerifier: 'verifier-' + 'v'.repeat(43),
    nonce: 'nonce-123',
    scopes: ['openid', 'Mail.ReadWrite'],
    mode: 'popup',
    stage: 'consent',
    expiresAt: iso(10 * MIN),
    ...over,
  };
}

export function aSession(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'sess-' + Math.random().toString(36).slice(2),
    tenantId: TENANT_A,
    oid: 'oid-adele',
    upn: 'adele@contoso.example',
    name: 'Adele Vance',
    roles: [],
    csrfToken: 'csrf-' + Math.random().toString(36).slice(2),
    expiresAt: iso(60 * MIN),
    ...over,
  };
}

function aUser(over: Partial<UserRecord> = {}): UserRecord {
  return { tenantId: TENANT_A, oid: 'oid-adele', upn: 'adele@contoso.example', displayName: 'Adele Vance', roles: [], lastSeenAt: iso(), ...over };
}

function aConversation(over: Partial<ConversationRecord> = {}): ConversationRecord {
  return {
    tenantId: TENANT_A,
    conversationId: 'a:personal-adele',
    scope: 'personal',
    userOid: 'oid-adele',
    userUpn: 'adele@contoso.example',
    subscribed: true,
    reference: { serviceUrl: 'https://smba.example/', conversation: { id: 'a:personal-adele' } },
    updatedAt: iso(),
    ...over,
  };
}

function aTest(over: Partial<ServiceAccountTestRecord> = {}): ServiceAccountTestRecord {
  const entry = { required: ['Mail.Read'], granted: ['Mail.Read'], missing: [], available: true };
  return {
    tenantId: TENANT_A,
    ranAt: iso(),
    ranBy: 'admin@contoso.example',
    configHash: 'hash-1',
    ok: true,
    steps: [{ id: 'token', status: 'passed', message: 'Token issued.' }],
    features: { emailSync: entry, calendarSync: entry, calendarScheduling: entry, taskSync: { required: [], granted: [], missing: [], available: false } },
    grantedRoles: ['Mail.Read'],
    ...over,
  };
}

function anItem(over: Partial<NewOutboxItem> = {}): NewOutboxItem {
  return { tenantId: TENANT_A, kind: 'deadline.approaching', idempotencyKey: 'k1', conversationId: 'a:personal-admin', payload: { days: 30 }, ...over };
}

export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('lifecycle', () => {
      it('answers ping when open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
      it('close can be called twice', async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    describe('tenants', () => {
      it('ensureTenant creates once with defaults and then returns the same record', async () => {
        expect(await store.getTenant(TENANT_A)).toBeUndefined();
        const created = await store.ensureTenant(TENANT_A, { displayName: 'Contoso', enabledFeatures: ['emailSync'] });
        expect(created).toMatchObject({ tenantId: TENANT_A, displayName: 'Contoso', enabledFeatures: ['emailSync'] });
        expect(Date.parse(created.createdAt)).not.toBeNaN();
        const again = await store.ensureTenant(TENANT_A, { displayName: 'Other', enabledFeatures: ['taskSync'] });
        expect(again).toEqual(created);
        expect(await store.getTenant(TENANT_A)).toEqual(created);
      });

      it('defaults to every feature when none are given', async () => {
        const t = await store.ensureTenant(TENANT_B);
        expect([...t.enabledFeatures].sort()).toEqual([...FEATURES].sort());
      });

      it('updateTenant changes only the fields in the patch', async () => {
        await store.ensureTenant(TENANT_A, { displayName: 'Contoso', enabledFeatures: ['emailSync', 'calendarSync'] });
        const u1 = await store.updateTenant(TENANT_A, { deadlineOverrides: { 'ews-off': '2026-11-01' } });
        expect(u1).toMatchObject({ displayName: 'Contoso', enabledFeatures: ['emailSync', 'calendarSync'], deadlineOverrides: { 'ews-off': '2026-11-01' } });
        const u2 = await store.updateTenant(TENANT_A, { enabledFeatures: ['taskSync'] });
        expect(u2).toMatchObject({ displayName: 'Contoso', enabledFeatures: ['taskSync'], deadlineOverrides: { 'ews-off': '2026-11-01' } });
        expect(await store.getTenant(TENANT_A)).toEqual(u2);
      });

      it('listTenants lists every tenant', async () => {
        await store.ensureTenant(TENANT_B);
        await store.ensureTenant(TENANT_A);
        expect((await store.listTenants()).map((t) => t.tenantId).sort()).toEqual([TENANT_A, TENANT_B]);
      });

      it('rejects an unknown feature', async () => {
        await expect(store.ensureTenant(TENANT_A, { enabledFeatures: ['faxSync' as never] })).rejects.toThrow(/faxSync/);
        expect(await store.getTenant(TENANT_A)).toBeUndefined();
      });
    });

    describe('users', () => {
      it('stores users and finds those with a role; a later sign-in replaces the roles', async () => {
        await store.putUser(aUser({ oid: 'oid-admin', upn: 'Admin@Contoso.example', roles: ['ConnectionCenter.Admin'] }));
        await store.putUser(aUser({ oid: 'oid-adele', roles: [] }));
        expect(await store.getUser(TENANT_A, 'oid-admin')).toMatchObject({ upn: 'admin@contoso.example', roles: ['ConnectionCenter.Admin'] });
        expect((await store.listUsersWithRole(TENANT_A, 'ConnectionCenter.Admin')).map((u) => u.oid)).toEqual(['oid-admin']);
        await store.putUser(aUser({ oid: 'oid-admin', upn: 'admin@contoso.example', roles: [] }));
        expect(await store.listUsersWithRole(TENANT_A, 'ConnectionCenter.Admin')).toEqual([]);
        expect(await store.getUser(TENANT_A, 'nobody')).toBeUndefined();
      });

      it('matches a role exactly, not as a substring', async () => {
        await store.putUser(aUser({ oid: 'o1', roles: ['ConnectionCenter.AdminReader'] }));
        expect(await store.listUsersWithRole(TENANT_A, 'ConnectionCenter.Admin')).toEqual([]);
      });

      it('keeps when admin status was last proven: set by a time, kept when not given, cleared by null', async () => {
        await store.putUser(aUser({ oid: 'oid-admin', roles: ['ConnectionCenter.Admin'] }));
        expect((await store.getUser(TENANT_A, 'oid-admin'))?.adminProvenAt).toBeUndefined();
        const proven = '2026-11-20T08:00:00.000Z';
        await store.putUser({ ...aUser({ oid: 'oid-admin', roles: ['ConnectionCenter.Admin'] }), adminProvenAt: proven });
        expect(await store.getUser(TENANT_A, 'oid-admin')).toMatchObject({ roles: ['ConnectionCenter.Admin'], adminProvenAt: proven });
        // A write that knows nothing about the proof (an import, a seed) leaves it alone.
        await store.putUser(aUser({ oid: 'oid-admin', upn: 'renamed@contoso.example', roles: ['ConnectionCenter.Admin'] }));
        expect(await store.getUser(TENANT_A, 'oid-admin')).toMatchObject({ upn: 'renamed@contoso.example', adminProvenAt: proven });
        await store.putUser({ ...aUser({ oid: 'oid-admin', roles: [] }), adminProvenAt: null });
        const demoted = await store.getUser(TENANT_A, 'oid-admin');
        expect(demoted?.roles).toEqual([]);
        expect(demoted).not.toHaveProperty('adminProvenAt');
        // Keyed by tenant and oid: another tenant's user with that oid has no proof.
        expect(await store.getUser(TENANT_B, 'oid-admin')).toBeUndefined();
      });
    });

    describe('domains', () => {
      it('replaces the whole list, lower-cased and de-duplicated', async () => {
        await store.setDomains(TENANT_A, ['Contoso.example', 'fabrikam.example', 'contoso.EXAMPLE']);
        expect(await store.getDomains(TENANT_A)).toEqual(['contoso.example', 'fabrikam.example']);
        await store.setDomains(TENANT_A, ['northwind.example']);
        expect(await store.getDomains(TENANT_A)).toEqual(['northwind.example']);
        await store.setDomains(TENANT_A, []);
        expect(await store.getDomains(TENANT_A)).toEqual([]);
      });
    });

    describe('service account', () => {
      it('round-trips the record including the secret, and deletes it', async () => {
        const sa = aServiceAccount({ outOfScopeAccount: 'ceo@contoso.example' });
        await store.putServiceAccount(sa);
        expect(await store.getServiceAccount(TENANT_A)).toEqual(sa);
        await store.putServiceAccount({ ...sa, clientSecret: 'new-secret-value', secretHint: 'new', outOfScopeAccount: undefined });
        const updated = await store.getServiceAccount(TENANT_A);
        expect(updated?.clientSecret).toBe('new-secret-value');
        expect(updated?.outOfScopeAccount).toBeUndefined();
        expect(await store.deleteServiceAccount(TENANT_A)).toBe(true);
        expect(await store.getServiceAccount(TENANT_A)).toBeUndefined();
        expect(await store.deleteServiceAccount(TENANT_A)).toBe(false);
      });

      it('keeps the latest two test results, latest first', async () => {
        expect(await store.getServiceAccountTests(TENANT_A)).toEqual([]);
        await store.putServiceAccountTest(aTest({ configHash: 'h1', ok: false }));
        await store.putServiceAccountTest(aTest({ configHash: 'h2' }));
        await store.putServiceAccountTest(aTest({ configHash: 'h3' }));
        const tests = await store.getServiceAccountTests(TENANT_A);
        expect(tests.map((t) => t.configHash)).toEqual(['h3', 'h2']);
        expect(tests[0]).toEqual(aTest({ configHash: 'h3' }));
      });
    });

    describe('connections', () => {
      it('keeps one record per (tenant, upn, kind); upn is case-insensitive', async () => {
        await store.putConnection(aConnection({ upn: 'Adele@Contoso.example', kind: 'ews-basic', state: 'connected', lastSyncAt: iso(-MIN) }));
        await store.putConnection(
          aConnection({
            kind: 'graph-delegated',
            state: 'needs-reconnect',
            error: { code: 'REFRESH_TOKEN_REVOKED', message: 'Revoked.', remedy: 'Reconnect.' },
          }),
        );
        await store.putConnection(aConnection({ kind: 'graph-delegated', state: 'connected', homeAccountId: 'oid.tid' }));
        const got = await store.getConnections(TENANT_A, 'ADELE@contoso.example');
        expect(got.map((c) => c.kind).sort()).toEqual(['ews-basic', 'graph-delegated']);
        const graph = got.find((c) => c.kind === 'graph-delegated')!;
        expect(graph).toEqual(aConnection({ kind: 'graph-delegated', state: 'connected', homeAccountId: 'oid.tid' }));
        expect(graph.error).toBeUndefined();
        expect(got.find((c) => c.kind === 'ews-basic')).toMatchObject({ upn: 'adele@contoso.example', lastSyncAt: iso(-MIN) });
      });

      it('deletes one kind and reports whether it existed', async () => {
        await store.putConnection(aConnection({ kind: 'ews-basic' }));
        await store.putConnection(aConnection({ kind: 'graph-delegated' }));
        expect(await store.deleteConnection(TENANT_A, 'adele@contoso.example', 'ews-basic')).toBe(true);
        expect(await store.deleteConnection(TENANT_A, 'adele@contoso.example', 'ews-basic')).toBe(false);
        expect((await store.getConnections(TENANT_A, 'adele@contoso.example')).map((c) => c.kind)).toEqual(['graph-delegated']);
      });

      it('rejects a record with an unknown kind or state', async () => {
        await expect(store.putConnection(aConnection({ kind: 'pop3' as ConnectionKind }))).rejects.toThrow(/kind/);
        await expect(store.putConnection(aConnection({ state: 'fine' as ConnectionState }))).rejects.toThrow(/state/);
        expect(await store.getConnections(TENANT_A, 'adele@contoso.example')).toEqual([]);
      });

      it('counts by kind and state', async () => {
        await store.importConnections([
          aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'connected' }),
          aConnection({ upn: 'b@c.example', kind: 'ews-basic', state: 'connected' }),
          aConnection({ upn: 'c@c.example', kind: 'graph-delegated', state: 'needs-reconnect' }),
        ]);
        const counts = await store.countConnections(TENANT_A);
        expect(counts.sort((x, y) => x.kind.localeCompare(y.kind))).toEqual([
          { kind: 'ews-basic', state: 'connected', count: 2 },
          { kind: 'graph-delegated', state: 'needs-reconnect', count: 1 },
        ]);
      });

      describe('import', () => {
        it('imports many at once and replaces existing records', async () => {
          await store.putConnection(aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'failing' }));
          await store.importConnections([
            aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'connected' }),
            aConnection({ upn: 'b@c.example', kind: 'ews-oauth', state: 'unknown' }),
          ]);
          expect((await store.getConnections(TENANT_A, 'a@c.example'))[0].state).toBe('connected');
          expect((await store.getConnections(TENANT_A, 'b@c.example'))[0].kind).toBe('ews-oauth');
        });

        it('is all or nothing: a bad record leaves the store as it was', async () => {
          await store.putConnection(aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'failing' }));
          const circular: Record<string, unknown> = {};
          circular.self = circular;
          const batches: ConnectionRecord[][] = [
            [
              aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'connected' }),
              aConnection({ upn: 'b@c.example', kind: 'ews-basic' }),
              aConnection({ upn: 'c@c.example', kind: 'smtp' as ConnectionKind }),
            ],
            [aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'connected' }), aConnection({ upn: '', kind: 'ews-basic' })],
            // Fails only while being written, after the first record already went in.
            [aConnection({ upn: 'a@c.example', kind: 'ews-basic', state: 'connected' }), aConnection({ upn: 'd@c.example', error: circular as never })],
          ];
          for (const batch of batches) {
            await expect(store.importConnections(batch)).rejects.toThrow();
            const page = await store.queryConnections(TENANT_A, {});
            expect(page.items.map((c) => [c.upn, c.state])).toEqual([['a@c.example', 'failing']]);
          }
        });

        it('names the bad record', async () => {
          await expect(
            store.importConnections([aConnection({ upn: 'a@c.example' }), aConnection({ upn: 'b@c.example', state: 'odd' as ConnectionState })]),
          ).rejects.toThrow(/\[1\]/);
        });

        it('accepts an empty import', async () => {
          await expect(store.importConnections([])).resolves.toBeUndefined();
        });
      });

      describe('query', () => {
        const people = [
          ['zoe@contoso.example', 'Zoë Ångström', 'ews-basic', 'connected'],
          ['adele@contoso.example', 'Adele Vance', 'ews-basic', 'connected'],
          ['adele@contoso.example', 'Adele Vance', 'graph-delegated', 'needs-reconnect'],
          ['bob@contoso.example', 'Bob Stone', 'graph-delegated', 'connected'],
          ['carol@fabrikam.example', 'Carol Adeyemi', 'ews-oauth', 'failing'],
          ['dan@contoso.example', undefined, 'graph-app', 'unknown'],
        ] as const;
        beforeEach(async () => {
          await store.importConnections(people.map(([upn, displayName, kind, state]) => aConnection({ upn, displayName, kind, state })));
        });

        it('orders by upn then kind', async () => {
          const page = await store.queryConnections(TENANT_A, {});
          expect(page.items.map((c) => `${c.upn}/${c.kind}`)).toEqual([
            'adele@contoso.example/ews-basic',
            'adele@contoso.example/graph-delegated',
            'bob@contoso.example/graph-delegated',
            'carol@fabrikam.example/ews-oauth',
            'dan@contoso.example/graph-app',
            'zoe@contoso.example/ews-basic',
          ]);
          expect(page.nextCursor).toBeUndefined();
        });

        it('filters by state and by kind', async () => {
          expect((await store.queryConnections(TENANT_A, { state: 'connected' })).items.map((c) => c.upn)).toEqual([
            'adele@contoso.example',
            'bob@contoso.example',
            'zoe@contoso.example',
          ]);
          expect((await store.queryConnections(TENANT_A, { kind: 'ews-basic' })).items.map((c) => c.upn)).toEqual([
            'adele@contoso.example',
            'zoe@contoso.example',
          ]);
          expect((await store.queryConnections(TENANT_A, { kind: 'ews-basic', state: 'needs-reconnect' })).items).toEqual([]);
        });

        it('searches upn and display name, case-insensitively', async () => {
          const upns = async (search: string) => (await store.queryConnections(TENANT_A, { search })).items.map((c) => `${c.upn}/${c.kind}`);
          expect(await upns('ADE')).toEqual(['adele@contoso.example/ews-basic', 'adele@contoso.example/graph-delegated', 'carol@fabrikam.example/ews-oauth']);
          expect(await upns('FABRIKAM')).toEqual(['carol@fabrikam.example/ews-oauth']);
          expect(await upns('ångström')).toEqual(['zoe@contoso.example/ews-basic']);
          expect(await upns('ZOË')).toEqual(['zoe@contoso.example/ews-basic']);
          expect(await upns('100%')).toEqual([]);
          expect(await upns('_')).toEqual([]);
        });

        it('pages with an opaque cursor: every record once, in order, with filters kept', async () => {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.queryConnections(TENANT_A, { limit: 2, cursor });
            expect(page.items.length).toBeLessThanOrEqual(2);
            seen.push(...page.items.map((c) => `${c.upn}/${c.kind}`));
            cursor = page.nextCursor;
            pages++;
          } while (cursor && pages < 10);
          expect(pages).toBe(3);
          expect(seen).toEqual((await store.queryConnections(TENANT_A, { limit: 100 })).items.map((c) => `${c.upn}/${c.kind}`));

          const first = await store.queryConnections(TENANT_A, { state: 'connected', limit: 1 });
          const second = await store.queryConnections(TENANT_A, { state: 'connected', limit: 1, cursor: first.nextCursor });
          const third = await store.queryConnections(TENANT_A, { state: 'connected', limit: 1, cursor: second.nextCursor });
          expect([first, second, third].map((p) => p.items[0].upn)).toEqual(['adele@contoso.example', 'bob@contoso.example', 'zoe@contoso.example']);
          expect(third.nextCursor).toBeUndefined();
        });

        it('rejects a cursor it did not issue', async () => {
          await expect(store.queryConnections(TENANT_A, { cursor: 'not-a-cursor' })).rejects.toThrow(/cursor/);
        });
      });
    });

    describe('key rotation', () => {
      it('counts nothing under a retired key when every value uses the current one, and rewrites nothing', async () => {
        await store.putServiceAccount(aServiceAccount());
        await store.putTokenCache(TENANT_A, 'oid.tid', 'cache');
        const none = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
        expect(await store.countRetiredKeyValues()).toEqual(none);
        expect(await store.reencryptAll({ batchSize: 1 })).toEqual(none);
        expect(await store.getTokenCache(TENANT_A, 'oid.tid')).toBe('cache');
      });

      it("renames a test's configuration fingerprint within its tenant only", async () => {
        await store.putServiceAccountTest(aTest({ configHash: 'old' }));
        await store.putServiceAccountTest(aTest({ tenantId: TENANT_B, configHash: 'old' }));
        expect(await store.rekeyServiceAccountTests(TENANT_A, 'old', 'new')).toBe(1);
        expect((await store.getServiceAccountTests(TENANT_A)).map((t) => t.configHash)).toEqual(['new']);
        expect((await store.getServiceAccountTests(TENANT_B)).map((t) => t.configHash)).toEqual(['old']);
        expect(await store.rekeyServiceAccountTests(TENANT_A, 'old', 'new')).toBe(0);
      });
    });

    describe('token cache partitions', () => {
      it('puts, replaces, reads and deletes one partition per user', async () => {
        expect(await store.getTokenCache(TENANT_A, 'oid-1.tid')).toBeUndefined();
        await store.putTokenCache(TENANT_A, 'oid-1.tid', '{"RefreshToken":{"x":{"secret":"rt-1"}}}');
        await store.putTokenCache(TENANT_A, 'oid-2.tid', '{"RefreshToken":{"x":{"secret":"rt-2"}}}');
        await store.putTokenCache(TENANT_A, 'oid-1.tid', '{"RefreshToken":{"x":{"secret":"rt-1b"}}}');
        expect(await store.getTokenCache(TENANT_A, 'oid-1.tid')).toBe('{"RefreshToken":{"x":{"secret":"rt-1b"}}}');
        expect(await store.getTokenCache(TENANT_A, 'oid-2.tid')).toBe('{"RefreshToken":{"x":{"secret":"rt-2"}}}');
        expect(await store.deleteTokenCache(TENANT_A, 'oid-1.tid')).toBe(true);
        expect(await store.deleteTokenCache(TENANT_A, 'oid-1.tid')).toBe(false);
        expect(await store.getTokenCache(TENANT_A, 'oid-1.tid')).toBeUndefined();
      });
    });

    describe('auth states', () => {
      it('is single use', async () => {
        const st = anAuthState();
        await store.putAuthState(st);
        expect(await store.takeAuthState(st.state, new Date(T0))).toEqual(st);
        expect(await store.takeAuthState(st.state, new Date(T0))).toBeUndefined();
      });

      it('gives a state to only one of two concurrent callers', async () => {
        const st = anAuthState();
        await store.putAuthState(st);
        const results = await Promise.all([store.takeAuthState(st.state, new Date(T0)), store.takeAuthState(st.state, new Date(T0))]);
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('refuses an expired or unknown state', async () => {
        const st = anAuthState({ expiresAt: iso(10 * MIN) });
        await store.putAuthState(st);
        expect(await store.takeAuthState(st.state, new Date(T0 + 10 * MIN))).toBeUndefined();
        expect(await store.takeAuthState('never-issued', new Date(T0))).toBeUndefined();
        expect(await store.takeAuthState('', new Date(T0))).toBeUndefined();
      });

      it('purgeExpired removes expired states and sessions only', async () => {
        const old = anAuthState({ expiresAt: iso(MIN) });
        const live = anAuthState({ expiresAt: iso(20 * MIN) });
        await store.putAuthState(old);
        await store.putAuthState(live);
        await store.putSession(aSession({ id: 's-old', expiresAt: iso(MIN) }));
        await store.putSession(aSession({ id: 's-live', expiresAt: iso(20 * MIN) }));
        expect(await store.purgeExpired(new Date(T0 + 5 * MIN))).toBe(2);
        expect(await store.takeAuthState(old.state, new Date(T0))).toBeUndefined();
        expect(await store.getSession('s-old', new Date(T0))).toBeUndefined();
        expect(await store.takeAuthState(live.state, new Date(T0))).toEqual(live);
        expect(await store.getSession('s-live', new Date(T0))).toMatchObject({ id: 's-live' });
        expect(await store.purgeExpired(new Date(T0 + 5 * MIN))).toBe(0);
      });
    });

    describe('sessions', () => {
      it('returns a session until it expires, and not after delete', async () => {
        const s = aSession({ roles: ['ConnectionCenter.Admin'], expiresAt: iso(30 * MIN) });
        await store.putSession(s);
        expect(await store.getSession(s.id, new Date(T0))).toEqual(s);
        expect(await store.getSession(s.id, new Date(T0 + 30 * MIN))).toBeUndefined();
        expect(await store.getSession('other', new Date(T0))).toBeUndefined();
        await store.deleteSession(s.id);
        expect(await store.getSession(s.id, new Date(T0))).toBeUndefined();
        await expect(store.deleteSession(s.id)).resolves.toBeUndefined();
      });
    });

    describe('conversations', () => {
      it('stores references, lists them by filter and finds a personal chat by upn or oid', async () => {
        const personal = aConversation();
        const channel = aConversation({ conversationId: '19:channel@thread.tacv2', scope: 'team', userOid: undefined, userUpn: undefined, subscribed: true });
        const other = aConversation({ conversationId: 'a:personal-bob', userOid: 'oid-bob', userUpn: 'bob@contoso.example', subscribed: false });
        for (const c of [personal, channel, other]) await store.putConversation(c);
        expect(await store.getConversation(TENANT_A, personal.conversationId)).toEqual(personal);
        expect((await store.listConversations(TENANT_A)).map((c) => c.conversationId).sort()).toEqual(
          [channel.conversationId, personal.conversationId, other.conversationId].sort(),
        );
        expect((await store.listConversations(TENANT_A, { subscribed: true })).map((c) => c.conversationId).sort()).toEqual(
          [channel.conversationId, personal.conversationId].sort(),
        );
        expect((await store.listConversations(TENANT_A, { subscribed: false })).map((c) => c.conversationId)).toEqual([other.conversationId]);
        expect((await store.listConversations(TENANT_A, { scope: 'team' })).map((c) => c.conversationId)).toEqual([channel.conversationId]);
        expect((await store.findPersonalConversation(TENANT_A, 'ADELE@contoso.example'))?.conversationId).toBe(personal.conversationId);
        expect((await store.findPersonalConversation(TENANT_A, 'oid-bob'))?.conversationId).toBe(other.conversationId);
        expect(await store.findPersonalConversation(TENANT_A, 'nobody@contoso.example')).toBeUndefined();
        expect(await store.deleteConversation(TENANT_A, personal.conversationId)).toBe(true);
        expect(await store.deleteConversation(TENANT_A, personal.conversationId)).toBe(false);
        expect(await store.findPersonalConversation(TENANT_A, 'oid-adele')).toBeUndefined();
      });

      it('updates a reference in place', async () => {
        await store.putConversation(aConversation({ subscribed: false }));
        await store.putConversation(aConversation({ subscribed: true, reference: { v: 2 } }));
        expect(await store.getConversation(TENANT_A, 'a:personal-adele')).toMatchObject({ subscribed: true, reference: { v: 2 } });
        expect(await store.listConversations(TENANT_A)).toHaveLength(1);
      });
    });

    describe('reach: campaigns and people', () => {
      it('keeps one campaign per tenant and lists the running ones', async () => {
        expect(await store.getCampaign(TENANT_A)).toBeUndefined();
        const running = {
          tenantId: TENANT_A,
          status: 'running' as const,
          startedAt: iso(),
          startedBy: 'adele@contoso.example',
          domains: ['contoso.example'],
          round: 1,
          updatedAt: iso(),
        };
        await store.putCampaign(running);
        await store.putCampaign({ tenantId: TENANT_B, status: 'paused', round: 3, updatedAt: iso() });
        expect(await store.getCampaign(TENANT_A)).toEqual(running);
        expect((await store.listRunningCampaigns()).map((c) => c.tenantId)).toEqual([TENANT_A]);
        await store.putCampaign({ ...running, status: 'paused', updatedAt: iso(MIN) });
        expect(await store.getCampaign(TENANT_A)).toMatchObject({ status: 'paused', round: 1 });
        expect(await store.listRunningCampaigns()).toEqual([]);
      });

      it('stores people by lower-cased upn and pages through them in upn order', async () => {
        const base = { tenantId: TENANT_A, updatedAt: iso() };
        await store.putReachUser({
          ...base,
          upn: 'Megan@Contoso.example',
          oid: 'oid-megan',
          bot: 'installed',
          round: 1,
          targetedAt: iso(),
          nudges: 1,
          lastMilestone: 'first',
        });
        await store.putReachUser({ ...base, upn: 'alex@contoso.example', unreachable: 'blocked-by-policy' });
        await store.putReachUser({ ...base, upn: 'lee@contoso.example', bot: 'removed' });
        await store.putReachUser({ tenantId: TENANT_B, upn: 'zed@fabrikam.example', updatedAt: iso() });
        expect(await store.getReachUser(TENANT_A, 'MEGAN@contoso.example')).toMatchObject({
          upn: 'megan@contoso.example',
          oid: 'oid-megan',
          bot: 'installed',
          nudges: 1,
        });
        expect(await store.getReachUser(TENANT_B, 'megan@contoso.example')).toBeUndefined();
        const first = await store.listReachUsers(TENANT_A, { limit: 2 });
        expect(first.items.map((u) => u.upn)).toEqual(['alex@contoso.example', 'lee@contoso.example']);
        const second = await store.listReachUsers(TENANT_A, { limit: 2, cursor: first.nextCursor });
        expect(second.items.map((u) => u.upn)).toEqual(['megan@contoso.example']);
        expect(second.nextCursor).toBeUndefined();
        await store.putReachUser({ ...base, upn: 'alex@contoso.example', bot: 'present' });
        expect(await store.getReachUser(TENANT_A, 'alex@contoso.example')).toEqual({ ...base, upn: 'alex@contoso.example', bot: 'present' });
      });
    });

    describe('outbox', () => {
      const later = (ms: number) => new Date(Date.now() + ms);

      it('ignores a second enqueue with the same idempotency key', async () => {
        expect(
          await store.enqueue([
            anItem({ idempotencyKey: 'k1', payload: { v: 1 } }),
            anItem({ idempotencyKey: 'k1', payload: { v: 2 } }),
            anItem({ idempotencyKey: 'k2' }),
          ]),
        ).toBe(2);
        expect(await store.enqueue([anItem({ idempotencyKey: 'k1', payload: { v: 3 } })])).toBe(0);
        const items = await store.listOutbox(TENANT_A);
        expect(items.map((i) => i.idempotencyKey)).toEqual(['k1', 'k2']);
        expect(items[0].payload).toEqual({ v: 1 });
        expect(items[0]).toMatchObject({
          status: 'pending',
          attempts: 0,
          tenantId: TENANT_A,
          kind: 'deadline.approaching',
          conversationId: 'a:personal-admin',
        });
        expect(items[0].id).not.toBe(items[1].id);
      });

      it('keeps the same key apart in another tenant', async () => {
        expect(await store.enqueue([anItem({ idempotencyKey: 'same' }), anItem({ tenantId: TENANT_B, idempotencyKey: 'same' })])).toBe(2);
      });

      it('hands out due items oldest first, up to the limit', async () => {
        await store.enqueue([anItem({ idempotencyKey: 'a' }), anItem({ idempotencyKey: 'b', tenantId: TENANT_B }), anItem({ idempotencyKey: 'c' })]);
        const due = await store.dueOutbox(later(1000), 10);
        expect(due.map((i) => i.idempotencyKey)).toEqual(['a', 'b', 'c']);
        expect((await store.dueOutbox(later(1000), 2)).map((i) => i.idempotencyKey)).toEqual(['a', 'b']);
        expect(await store.dueOutbox(new Date(Date.now() - 60_000), 10)).toEqual([]);
      });

      it('retry: counts the attempt, keeps the error and waits until the next attempt', async () => {
        await store.enqueue([anItem()]);
        const [item] = await store.dueOutbox(later(1000), 10);
        const next = later(60 * MIN);
        await store.markRetry(item.id, next, 'HTTP 429 from Teams');
        expect(await store.dueOutbox(later(30 * MIN), 10)).toEqual([]);
        const [again] = await store.dueOutbox(new Date(next.getTime()), 10);
        expect(again).toMatchObject({ id: item.id, status: 'pending', attempts: 1, lastError: 'HTTP 429 from Teams', nextAttemptAt: next.toISOString() });
      });

      it('sent and failed items are no longer due; a late duplicate mark changes nothing', async () => {
        await store.enqueue([anItem({ idempotencyKey: 's' }), anItem({ idempotencyKey: 'f' })]);
        const [s, f] = await store.dueOutbox(later(1000), 10);
        const sentAt = new Date(T0);
        await store.markSent(s.id, sentAt);
        await store.markFailed(f.id, 'conversation not found (403)');
        expect(await store.dueOutbox(later(1000), 10)).toEqual([]);
        expect(await store.listOutbox(TENANT_A, 'sent')).toEqual([
          expect.objectContaining({ id: s.id, status: 'sent', attempts: 1, sentAt: sentAt.toISOString() }),
        ]);
        expect(await store.listOutbox(TENANT_A, 'failed')).toEqual([
          expect.objectContaining({ id: f.id, status: 'failed', attempts: 1, lastError: 'conversation not found (403)' }),
        ]);
        expect(await store.listOutbox(TENANT_A, 'pending')).toEqual([]);

        await store.markRetry(s.id, later(1000), 'late');
        await store.markFailed(s.id, 'late');
        expect((await store.listOutbox(TENANT_A, 'sent'))[0]).toMatchObject({ id: s.id, status: 'sent', attempts: 1 });
      });

      describe('claims with a lease (several instances)', () => {
        // Items are due from the moment they are enqueued: claim a second later.
        let t: Date;
        beforeEach(() => {
          t = later(1000);
        });
        const at = (ms: number) => new Date(t.getTime() + ms);

        it('hands a claimed item to nobody else until its lease expires, then to the next claimer', async () => {
          await store.enqueue([anItem({ idempotencyKey: 'a' }), anItem({ idempotencyKey: 'b', tenantId: TENANT_B }), anItem({ idempotencyKey: 'c' })]);
          const first = await store.claimOutbox(t, 2, 'instance-1', MIN);
          expect(first.map((i) => i.idempotencyKey)).toEqual(['a', 'b']);
          expect(first[0]).toMatchObject({ status: 'pending', attempts: 0, tenantId: TENANT_A });
          expect((await store.claimOutbox(t, 10, 'instance-2', MIN)).map((i) => i.idempotencyKey)).toEqual(['c']);
          expect(await store.claimOutbox(at(MIN - 1), 10, 'instance-3', MIN)).toEqual([]);

          await store.markSent(first[0].id, t);
          // instance-1 sent "a" and then went quiet: "b" and "c" are taken over once their leases end.
          const takeover = await store.claimOutbox(at(MIN), 10, 'instance-3', MIN);
          expect(takeover.map((i) => i.idempotencyKey)).toEqual(['b', 'c']);
          expect(await store.claimOutbox(at(MIN), 10, 'instance-1', MIN)).toEqual([]);
        });

        it('lets the holder claim its own items again, renewing their lease', async () => {
          await store.enqueue([anItem({ idempotencyKey: 'a' })]);
          const [item] = await store.claimOutbox(t, 10, 'instance-1', MIN);
          expect(await store.claimOutbox(at(1), 10, 'instance-1', MIN)).toEqual([expect.objectContaining({ id: item.id })]);
          expect(await store.claimOutbox(at(MIN), 10, 'instance-2', MIN)).toEqual([]);
          expect(await store.claimOutbox(at(MIN + 1), 10, 'instance-2', MIN)).toEqual([expect.objectContaining({ id: item.id })]);
        });

        it('ends the lease with a retry: the item is claimable again when it is next due', async () => {
          await store.enqueue([anItem()]);
          const [item] = await store.claimOutbox(t, 10, 'instance-1', 60 * MIN);
          await store.markRetry(item.id, at(MIN), 'HTTP 429 from Teams');
          expect(await store.claimOutbox(at(MIN - 1), 10, 'instance-2', MIN)).toEqual([]);
          expect(await store.claimOutbox(at(MIN), 10, 'instance-2', MIN)).toEqual([expect.objectContaining({ id: item.id, attempts: 1 })]);
        });

        it('gives each due item to exactly one of several claimers at the same moment', async () => {
          await store.enqueue(Array.from({ length: 20 }, (_, i) => anItem({ idempotencyKey: `k${i}` })));
          const claims = await Promise.all(['i1', 'i2', 'i3', 'i4'].map((owner) => store.claimOutbox(t, 8, owner, MIN)));
          const ids = claims.flat().map((i) => i.id);
          expect(ids).toHaveLength(20);
          expect(new Set(ids).size).toBe(20);
        });

        it('lets the holder end its item after its lease ran out, as long as nobody claimed it since', async () => {
          await store.enqueue([anItem({ idempotencyKey: 'a' })]);
          const [item] = await store.claimOutbox(t, 10, 'instance-A', MIN);
          expect(await store.markSent(item.id, at(2 * MIN), 'instance-B')).toBe(false);
          expect(await store.markSent(item.id, at(2 * MIN), 'instance-A')).toBe(true);
          expect(await store.listOutbox(TENANT_A, 'sent')).toEqual([expect.objectContaining({ id: item.id, attempts: 1 })]);
        });

        describe('an instance whose lease was taken over cannot end the item', () => {
          /** A claims the item, its lease runs out, B claims it: the item is B's now. */
          async function takenOver(): Promise<string> {
            await store.enqueue([anItem({ idempotencyKey: 'a' })]);
            const [mine] = await store.claimOutbox(t, 10, 'instance-A', MIN);
            expect(await store.claimOutbox(at(MIN), 10, 'instance-B', MIN)).toEqual([expect.objectContaining({ id: mine.id })]);
            return mine.id;
          }
          /** A's late retry, send and failure change nothing and say so. */
          async function lateMarksOfA(id: string): Promise<void> {
            expect(await store.markRetry(id, at(30 * MIN), 'late 429', 'instance-A')).toBe(false);
            expect(await store.markSent(id, at(MIN + 1), 'instance-A')).toBe(false);
            expect(await store.markFailed(id, 'late failure', 'instance-A')).toBe(false);
            const [item] = await store.listOutbox(TENANT_A);
            expect(item).toMatchObject({ id, status: 'pending', attempts: 0 });
            expect(item.lastError).toBeUndefined();
            expect(item.sentAt).toBeUndefined();
            // B still holds the lease: nobody else is handed the item before it ends.
            expect(await store.claimOutbox(at(2 * MIN - 1), 10, 'instance-C', MIN)).toEqual([]);
          }

          it("B's retry counts", async () => {
            const id = await takenOver();
            await lateMarksOfA(id);
            expect(await store.markRetry(id, at(3 * MIN), 'HTTP 429 from Teams', 'instance-B')).toBe(true);
            expect(await store.listOutbox(TENANT_A)).toEqual([
              expect.objectContaining({ id, status: 'pending', attempts: 1, lastError: 'HTTP 429 from Teams', nextAttemptAt: at(3 * MIN).toISOString() }),
            ]);
            // The retry ended B's lease: the item is anyone's when next due.
            expect(await store.claimOutbox(at(3 * MIN), 10, 'instance-C', MIN)).toEqual([expect.objectContaining({ id })]);
          });

          it("B's send counts", async () => {
            const id = await takenOver();
            await lateMarksOfA(id);
            expect(await store.markSent(id, at(MIN + 2), 'instance-B')).toBe(true);
            expect(await store.listOutbox(TENANT_A)).toEqual([expect.objectContaining({ id, status: 'sent', attempts: 1, sentAt: at(MIN + 2).toISOString() })]);
            expect(await store.markFailed(id, 'late failure', 'instance-A')).toBe(false);
          });

          it("B's failure counts", async () => {
            const id = await takenOver();
            await lateMarksOfA(id);
            expect(await store.markFailed(id, 'conversation not found (403)', 'instance-B')).toBe(true);
            expect(await store.listOutbox(TENANT_A, 'failed')).toEqual([
              expect.objectContaining({ id, status: 'failed', attempts: 1, lastError: 'conversation not found (403)' }),
            ]);
          });
        });

        it('never hands out sent, failed or not yet due items, and refuses a missing owner or lease', async () => {
          await store.enqueue([anItem({ idempotencyKey: 's' }), anItem({ idempotencyKey: 'f' })]);
          const [s, f] = await store.dueOutbox(t, 10);
          await store.markSent(s.id, t);
          await store.markFailed(f.id, 'gone');
          expect(await store.claimOutbox(at(MIN), 10, 'instance-1', MIN)).toEqual([]);
          await store.enqueue([anItem({ idempotencyKey: 'later' })]);
          expect(await store.claimOutbox(new Date(Date.now() - 60_000), 10, 'instance-1', MIN)).toEqual([]);
          await expect(store.claimOutbox(t, 10, '', MIN)).rejects.toThrow(/owner/);
          await expect(store.claimOutbox(t, 10, 'instance-1', 0)).rejects.toThrow(/leaseMs/);
        });
      });

      it('refuses to mark an unknown item', async () => {
        await expect(store.markSent('no-such-id', new Date())).rejects.toThrow(/no-such-id/);
        await expect(store.markRetry('no-such-id', new Date(), 'x')).rejects.toThrow(/no-such-id/);
        await expect(store.markFailed('no-such-id', 'x')).rejects.toThrow(/no-such-id/);
      });
    });

    describe('leases (work several instances share)', () => {
      const T0 = new Date('2026-01-01T00:00:00Z');
      const at = (ms: number) => new Date(T0.getTime() + ms);

      it('is held by one owner until it expires or is released, renewed only by its holder', async () => {
        expect(await store.tryLease('checks/t1', 'a', MIN, T0)).toBe(true);
        expect(await store.tryLease('checks/t1', 'b', MIN, at(MIN - 1))).toBe(false);
        expect(await store.tryLease('checks/t2', 'b', MIN, T0)).toBe(true);
        // Renewal moves the expiry on from the renewal time.
        expect(await store.tryLease('checks/t1', 'a', MIN, at(MIN - 1))).toBe(true);
        expect(await store.tryLease('checks/t1', 'b', MIN, at(MIN + 1))).toBe(false);
        // Expired: the next one takes it over, and the old holder has lost it.
        expect(await store.tryLease('checks/t1', 'b', MIN, at(2 * MIN))).toBe(true);
        expect(await store.tryLease('checks/t1', 'a', MIN, at(2 * MIN))).toBe(false);
        // Releasing someone else's lease does nothing; releasing one's own frees it at once.
        await store.releaseLease('checks/t1', 'a');
        expect(await store.tryLease('checks/t1', 'c', MIN, at(2 * MIN))).toBe(false);
        await store.releaseLease('checks/t1', 'b');
        expect(await store.tryLease('checks/t1', 'c', MIN, at(2 * MIN))).toBe(true);
      });

      it('gives a free lease to exactly one of several owners asking at once', async () => {
        const won = await Promise.all(['i1', 'i2', 'i3', 'i4'].map((owner) => store.tryLease('daily', owner, MIN, T0)));
        expect(won.filter(Boolean)).toHaveLength(1);
      });

      it('refuses a missing name or owner and a lease of no length', async () => {
        await expect(store.tryLease('', 'a', MIN, T0)).rejects.toThrow(/name/);
        await expect(store.tryLease('x', '', MIN, T0)).rejects.toThrow(/owner/);
        await expect(store.tryLease('x', 'a', 0, T0)).rejects.toThrow(/ttlMs/);
      });
    });

    describe('audit log', () => {
      it('lists newest first, with a limit and paging by the last id', async () => {
        for (let i = 0; i < 5; i++)
          await store.audit({ tenantId: TENANT_A, actor: 'admin@contoso.example', action: `action.${i}`, target: `t${i}`, details: { i } });
        const all = await store.listAudit(TENANT_A);
        expect(all.map((e) => e.action)).toEqual(['action.4', 'action.3', 'action.2', 'action.1', 'action.0']);
        expect(all[0]).toMatchObject({ tenantId: TENANT_A, actor: 'admin@contoso.example', target: 't4', details: { i: 4 } });
        expect(Date.parse(all[0].at)).not.toBeNaN();
        expect(new Set(all.map((e) => e.id)).size).toBe(5);

        const first = await store.listAudit(TENANT_A, { limit: 2 });
        const second = await store.listAudit(TENANT_A, { limit: 2, before: first[1].id });
        const third = await store.listAudit(TENANT_A, { limit: 2, before: second[1].id });
        expect([...first, ...second, ...third].map((e) => e.action)).toEqual(all.map((e) => e.action));
      });

      it('orders by the given time and pages before a date', async () => {
        await store.audit({ tenantId: TENANT_A, actor: 'system', action: 'late', at: iso(2 * MIN) });
        await store.audit({ tenantId: TENANT_A, actor: 'system', action: 'early', at: iso(0) });
        await store.audit({ tenantId: TENANT_A, actor: 'system', action: 'middle', at: iso(MIN) });
        expect((await store.listAudit(TENANT_A)).map((e) => e.action)).toEqual(['late', 'middle', 'early']);
        expect((await store.listAudit(TENANT_A, { before: iso(MIN) })).map((e) => e.action)).toEqual(['early']);
        expect((await store.listAudit(TENANT_A))[0].at).toBe(iso(2 * MIN));
      });
    });

    describe('health-check runs', () => {
      const aRun = (over: Partial<CheckRunRecord> = {}): CheckRunRecord => ({
        id: 'run-1',
        tenantId: TENANT_A,
        status: 'running',
        startedBy: 'schedule',
        startedAt: iso(),
        total: 0,
        checked: 0,
        ...over,
      });

      it('keeps per-feature results on a connection', async () => {
        const c = aConnection({ featureResults: { emailSync: { ok: true }, calendarSync: { ok: false, code: 'THROTTLED' } } });
        await store.putConnection(c);
        expect(await store.getConnections(TENANT_A, c.upn)).toEqual([c]);
      });

      it('starts one run per tenant; a second start returns the running one and writes nothing', async () => {
        const first = await store.startCheckRun(aRun(), [
          { upn: 'b@contoso.example', kind: 'graph-app' },
          { upn: 'A@contoso.example', kind: 'ews-basic' },
          { upn: 'a@contoso.example', kind: 'ews-basic' },
        ]);
        expect(first).toEqual({ started: true, run: aRun({ total: 2 }) });
        const second = await store.startCheckRun(aRun({ id: 'run-2' }), [{ upn: 'c@contoso.example', kind: 'graph-app' }]);
        expect(second).toEqual({ started: false, run: aRun({ total: 2 }) });
        expect(await store.getCheckRun(TENANT_A, 'run-2')).toBeUndefined();
        expect(await store.latestCheckRun(TENANT_A)).toEqual(aRun({ total: 2 }));
        expect(await store.listRunningCheckRuns()).toEqual([aRun({ total: 2 })]);
        // Another tenant runs independently.
        expect((await store.startCheckRun(aRun({ id: 'run-b', tenantId: TENANT_B }), [])).started).toBe(true);
      });

      it('completes each item once, writing the connection and the history of a change atomically', async () => {
        await store.startCheckRun(aRun(), [
          { upn: 'a@contoso.example', kind: 'graph-delegated' },
          { upn: 'b@contoso.example', kind: 'graph-app' },
        ]);
        expect((await store.pendingCheckItems(TENANT_A, 'run-1', 10)).map((i) => i.upn)).toEqual(['a@contoso.example', 'b@contoso.example']);
        const lost = aConnection({
          upn: 'a@contoso.example',
          state: 'needs-reconnect',
          error: { code: 'REFRESH_TOKEN_REVOKED', message: 'm' },
          lastCheckedAt: iso(MIN),
        });
        expect(await store.completeCheckItem({ runId: 'run-1', tenantId: TENANT_A, upn: lost.upn, kind: lost.kind, connection: lost, from: 'connected' })).toBe(
          true,
        );
        // A resumed run that checks it again leaves the first result.
        expect(
          await store.completeCheckItem({
            runId: 'run-1',
            tenantId: TENANT_A,
            upn: lost.upn,
            kind: lost.kind,
            connection: { ...lost, state: 'connected' },
            from: 'connected',
          }),
        ).toBe(false);
        expect(await store.getConnections(TENANT_A, 'a@contoso.example')).toEqual([lost]);
        const same = aConnection({ upn: 'b@contoso.example', kind: 'graph-app', lastCheckedAt: iso(MIN) });
        expect(await store.completeCheckItem({ runId: 'run-1', tenantId: TENANT_A, upn: same.upn, kind: same.kind, connection: same, from: 'connected' })).toBe(
          true,
        );
        expect(await store.pendingCheckItems(TENANT_A, 'run-1', 10)).toEqual([]);
        expect((await store.getCheckRun(TENANT_A, 'run-1'))?.checked).toBe(2);
        expect(await store.checkRunOutcome(TENANT_A, 'run-1')).toEqual({
          byState: { 'needs-reconnect': 1, connected: 1 },
          changes: [{ upn: 'a@contoso.example', kind: 'graph-delegated', done: true, from: 'connected', to: 'needs-reconnect', code: 'REFRESH_TOKEN_REVOKED' }],
        });
        expect(await store.connectionHistory(TENANT_A, 'A@contoso.example')).toEqual([
          {
            tenantId: TENANT_A,
            upn: 'a@contoso.example',
            kind: 'graph-delegated',
            from: 'connected',
            to: 'needs-reconnect',
            code: 'REFRESH_TOKEN_REVOKED',
            at: iso(MIN),
            runId: 'run-1',
          },
        ]);
        expect(await store.connectionHistory(TENANT_A, 'b@contoso.example')).toEqual([]);
        expect(await store.connectionHistory(TENANT_B, 'a@contoso.example')).toEqual([]);
      });

      it('completes the items of one $batch in one call, each once; an invalid one writes none of them', async () => {
        await store.startCheckRun(aRun(), [
          { upn: 'a@contoso.example', kind: 'graph-app' },
          { upn: 'b@contoso.example', kind: 'graph-app' },
          { upn: 'c@contoso.example', kind: 'graph-app' },
        ]);
        const a = aConnection({ upn: 'a@contoso.example', kind: 'graph-app', state: 'failing', lastCheckedAt: iso(MIN) });
        const b = aConnection({ upn: 'b@contoso.example', kind: 'graph-app', lastCheckedAt: iso(MIN) });
        const c = aConnection({ upn: 'c@contoso.example', kind: 'graph-app', lastCheckedAt: iso(MIN) });
        const item = (conn: ConnectionRecord) => ({
          runId: 'run-1',
          tenantId: TENANT_A,
          upn: conn.upn,
          kind: conn.kind,
          connection: conn,
          from: 'connected' as const,
        });
        expect(await store.completeCheckItem(item(b))).toBe(true);
        await expect(store.completeCheckItems([item(c), { ...item(a), from: 'nope' as never }])).rejects.toThrow(/from/);
        expect(await store.pendingCheckItems(TENANT_A, 'run-1', 10)).toHaveLength(2);
        expect(await store.completeCheckItems([item(a), item(b), item(c)])).toEqual([true, false, true]);
        expect(await store.pendingCheckItems(TENANT_A, 'run-1', 10)).toEqual([]);
        expect((await store.getCheckRun(TENANT_A, 'run-1'))?.checked).toBe(3);
        expect(await store.getConnections(TENANT_A, 'a@contoso.example')).toEqual([a]);
        expect((await store.connectionHistory(TENANT_A, 'a@contoso.example')).map((h) => [h.from, h.to, h.runId])).toEqual([['connected', 'failing', 'run-1']]);
        expect(await store.connectionHistory(TENANT_A, 'c@contoso.example')).toEqual([]);
        expect(await store.completeCheckItems([])).toEqual([]);
      });

      it('writes an item named twice in one call by its first result, and items of two runs each in their own run', async () => {
        await store.startCheckRun(aRun(), [
          { upn: 'a@contoso.example', kind: 'graph-app' },
          { upn: 'b@contoso.example', kind: 'graph-app' },
        ]);
        await store.startCheckRun(aRun({ id: 'run-b', tenantId: TENANT_B }), [{ upn: 'a@contoso.example', kind: 'graph-app' }]);
        const first = aConnection({ upn: 'a@contoso.example', kind: 'graph-app', state: 'failing', lastCheckedAt: iso(MIN) });
        const second = { ...first, state: 'connected' as const, lastCheckedAt: iso(2 * MIN) };
        const b = aConnection({ upn: 'b@contoso.example', kind: 'graph-app', lastCheckedAt: iso(MIN) });
        const other = aConnection({ tenantId: TENANT_B, upn: 'a@contoso.example', kind: 'graph-app', state: 'unknown', lastCheckedAt: iso(MIN) });
        const item = (conn: ConnectionRecord, runId = 'run-1') => ({
          runId,
          tenantId: conn.tenantId,
          upn: conn.upn,
          kind: conn.kind,
          connection: conn,
          from: 'connected' as const,
        });
        expect(await store.completeCheckItems([item(b), item(first), item(other, 'run-b'), item(second)])).toEqual([true, true, true, false]);
        expect(await store.getConnections(TENANT_A, 'a@contoso.example')).toEqual([first]);
        expect(await store.getConnections(TENANT_B, 'a@contoso.example')).toEqual([other]);
        expect((await store.getCheckRun(TENANT_A, 'run-1'))?.checked).toBe(2);
        expect((await store.getCheckRun(TENANT_B, 'run-b'))?.checked).toBe(1);
        expect((await store.connectionHistory(TENANT_A, 'a@contoso.example')).map((h) => [h.from, h.to, h.runId])).toEqual([['connected', 'failing', 'run-1']]);
        expect((await store.connectionHistory(TENANT_B, 'a@contoso.example')).map((h) => [h.from, h.to, h.runId])).toEqual([['connected', 'unknown', 'run-b']]);
      });

      it('records a check outside a run: the connection, and a history entry without a run only when the state changed', async () => {
        const lost = aConnection({
          upn: 'a@contoso.example',
          state: 'needs-reconnect',
          error: { code: 'REFRESH_TOKEN_REVOKED', message: 'm' },
          lastCheckedAt: iso(MIN),
        });
        await store.recordConnectionCheck(lost, 'connected');
        expect(await store.getConnections(TENANT_A, 'a@contoso.example')).toEqual([lost]);
        const again = { ...lost, lastCheckedAt: iso(2 * MIN) };
        await store.recordConnectionCheck(again, 'needs-reconnect');
        expect(await store.getConnections(TENANT_A, 'a@contoso.example')).toEqual([again]);
        expect(await store.connectionHistory(TENANT_A, 'a@contoso.example')).toEqual([
          {
            tenantId: TENANT_A,
            upn: 'a@contoso.example',
            kind: 'graph-delegated',
            from: 'connected',
            to: 'needs-reconnect',
            code: 'REFRESH_TOKEN_REVOKED',
            at: iso(MIN),
          },
        ]);
      });

      it('records a check outside a run only onto the connection as it was read: one changed or removed meanwhile stays as left', async () => {
        const seen = aConnection({ upn: 'a@contoso.example', lastCheckedAt: iso(MIN) });
        const removed = aConnection({ upn: 'b@contoso.example', lastCheckedAt: iso(MIN) });
        const untouched = aConnection({ upn: 'c@contoso.example', lastCheckedAt: iso(MIN) });
        await store.importConnections([seen, removed, untouched]);
        // While the Test ran, a reconnected in another window and b disconnected.
        const reconnected = { ...seen, grantedScopes: ['openid', 'Mail.ReadWrite', 'Calendars.ReadWrite'], updatedAt: iso(2 * MIN) };
        await store.putConnection(reconnected);
        await store.deleteConnection(TENANT_A, removed.upn, removed.kind);
        const lost = (c: ConnectionRecord): ConnectionRecord => ({
          ...c,
          state: 'needs-reconnect',
          grantedScopes: ['openid'],
          error: { code: 'REFRESH_TOKEN_REVOKED', message: 'm' },
          lastCheckedAt: iso(3 * MIN),
          updatedAt: iso(3 * MIN),
        });
        expect(await store.recordConnectionCheck(lost(seen), 'connected', seen.updatedAt)).toBe(false);
        expect(await store.recordConnectionCheck(lost(removed), 'connected', removed.updatedAt)).toBe(false);
        expect(await store.recordConnectionCheck(lost(untouched), 'connected', untouched.updatedAt)).toBe(true);
        expect(await store.getConnections(TENANT_A, seen.upn)).toEqual([reconnected]);
        expect(await store.getConnections(TENANT_A, removed.upn)).toEqual([]);
        expect(await store.getConnections(TENANT_A, untouched.upn)).toEqual([lost(untouched)]);
        expect(await store.connectionHistory(TENANT_A, seen.upn)).toEqual([]);
        expect(await store.connectionHistory(TENANT_A, removed.upn)).toEqual([]);
        expect((await store.connectionHistory(TENANT_A, untouched.upn)).map((h) => [h.from, h.to, h.code])).toEqual([
          ['connected', 'needs-reconnect', 'REFRESH_TOKEN_REVOKED'],
        ]);
        // Checked again from what is stored now: written, and no second history entry (no state change).
        const again = { ...lost(untouched), lastCheckedAt: iso(4 * MIN), updatedAt: iso(4 * MIN) };
        expect(await store.recordConnectionCheck(again, 'needs-reconnect', iso(3 * MIN))).toBe(true);
        expect(await store.getConnections(TENANT_A, untouched.upn)).toEqual([again]);
        expect(await store.connectionHistory(TENANT_A, untouched.upn)).toHaveLength(1);
        await expect(store.recordConnectionCheck(again, 'needs-reconnect', '')).rejects.toThrow(/unchangedSince/);
      });

      it('removes a connection and keeps the change in its history with who made it, in one write', async () => {
        const graph = aConnection({ upn: 'a@contoso.example', lastCheckedAt: iso(MIN) });
        const exchange = aConnection({ upn: 'a@contoso.example', kind: 'ews-basic', state: 'needs-reconnect' });
        const alreadyOff = aConnection({ upn: 'b@contoso.example', state: 'disconnected' });
        const previousOwner = aConnection({ upn: 'c@contoso.example', state: 'needs-reconnect' });
        const foreign = aConnection({ tenantId: TENANT_B, upn: 'a@contoso.example' });
        await store.importConnections([graph, exchange, alreadyOff, previousOwner, foreign]);

        expect(await store.removeConnectionWithHistory(TENANT_A, 'A@Contoso.example', 'graph-delegated', iso(2 * MIN), 'user')).toBe(true);
        expect(await store.removeConnectionWithHistory(TENANT_A, 'a@contoso.example', 'ews-basic', iso(3 * MIN), 'user')).toBe(true);
        expect(await store.removeConnectionWithHistory(TENANT_A, 'b@contoso.example', 'graph-delegated', iso(3 * MIN), 'user')).toBe(true);
        expect(await store.removeConnectionWithHistory(TENANT_A, 'c@contoso.example', 'graph-delegated', iso(3 * MIN), 'system')).toBe(true);
        // Nothing left to remove: nothing written.
        expect(await store.removeConnectionWithHistory(TENANT_A, 'a@contoso.example', 'graph-delegated', iso(4 * MIN), 'user')).toBe(false);

        expect(await store.getConnections(TENANT_A, 'a@contoso.example')).toEqual([]);
        expect(await store.getConnections(TENANT_A, 'b@contoso.example')).toEqual([]);
        expect(await store.getConnections(TENANT_A, 'c@contoso.example')).toEqual([]);
        expect(await store.getConnections(TENANT_B, 'a@contoso.example')).toEqual([foreign]);
        expect(await store.connectionHistory(TENANT_A, 'a@contoso.example')).toEqual([
          { tenantId: TENANT_A, upn: 'a@contoso.example', kind: 'ews-basic', from: 'needs-reconnect', to: 'disconnected', at: iso(3 * MIN), changedBy: 'user' },
          { tenantId: TENANT_A, upn: 'a@contoso.example', kind: 'graph-delegated', from: 'connected', to: 'disconnected', at: iso(2 * MIN), changedBy: 'user' },
        ]);
        expect(await store.connectionHistory(TENANT_A, 'c@contoso.example')).toEqual([
          {
            tenantId: TENANT_A,
            upn: 'c@contoso.example',
            kind: 'graph-delegated',
            from: 'needs-reconnect',
            to: 'disconnected',
            at: iso(3 * MIN),
            changedBy: 'system',
          },
        ]);
        // One already disconnected changes no state.
        expect(await store.connectionHistory(TENANT_A, 'b@contoso.example')).toEqual([]);
        expect(await store.connectionHistory(TENANT_B, 'a@contoso.example')).toEqual([]);

        await expect(store.removeConnectionWithHistory(TENANT_A, 'a@contoso.example', 'exchange' as never, iso(MIN), 'user')).rejects.toThrow(
          /kind "exchange"/,
        );
        await expect(store.removeConnectionWithHistory(TENANT_A, 'a@contoso.example', 'graph-app', 'yesterday', 'user')).rejects.toThrow(
          /at "yesterday" is not a date/,
        );
        await expect(store.removeConnectionWithHistory(TENANT_A, 'a@contoso.example', 'graph-app', iso(MIN), 'admin' as never)).rejects.toThrow(
          /by "admin" is not who changes a connection/,
        );
      });

      it("reads one kind's history, newest first, past any number of other kinds' changes", async () => {
        const graph = aConnection({ upn: 'a@contoso.example', lastCheckedAt: iso(MIN) });
        const exchange = aConnection({ upn: 'a@contoso.example', kind: 'ews-basic', lastCheckedAt: iso(MIN) });
        await store.importConnections([graph, exchange]);
        expect(await store.removeConnectionWithHistory(TENANT_A, graph.upn, 'graph-delegated', iso(2 * MIN), 'user')).toBe(true);
        // The Exchange connection flaps afterwards, more often than one default page of history holds.
        let stored = exchange;
        for (let i = 0; i < 110; i++) {
          const next: ConnectionRecord = {
            ...stored,
            state: i % 2 ? 'connected' : 'unknown',
            lastCheckedAt: iso((3 + i) * MIN),
            updatedAt: iso((3 + i) * MIN),
          };
          expect(await store.recordConnectionCheck(next, stored.state, stored.updatedAt)).toBe(true);
          stored = next;
        }
        expect((await store.connectionHistory(TENANT_A, 'A@contoso.example')).map((h) => h.kind)).not.toContain('graph-delegated');

        expect(await store.connectionHistory(TENANT_A, 'A@contoso.example', { kind: 'graph-delegated' })).toEqual([
          { tenantId: TENANT_A, upn: 'a@contoso.example', kind: 'graph-delegated', from: 'connected', to: 'disconnected', at: iso(2 * MIN), changedBy: 'user' },
        ]);
        const exchangeOnly = await store.connectionHistory(TENANT_A, graph.upn, { kind: 'ews-basic', limit: 2 });
        expect(exchangeOnly.map((h) => [h.from, h.to, h.at])).toEqual([
          ['unknown', 'connected', iso(112 * MIN)],
          ['connected', 'unknown', iso(111 * MIN)],
        ]);
        expect(await store.connectionHistory(TENANT_A, graph.upn, { kind: 'graph-app' })).toEqual([]);
        expect(await store.connectionHistory(TENANT_B, graph.upn, { kind: 'graph-delegated' })).toEqual([]);
        await expect(store.connectionHistory(TENANT_A, graph.upn, { kind: 'exchange' as never })).rejects.toThrow(/kind "exchange" is not a connection kind/);
      });

      it('reads a page of pending work with each connection as stored now, none for one deleted since', async () => {
        const a = aConnection({ upn: 'a@contoso.example', kind: 'graph-app', featureResults: { calendarSync: { ok: true } } });
        const other = aConnection({ upn: 'a@contoso.example', kind: 'ews-basic', state: 'needs-reconnect' });
        const foreign = aConnection({ tenantId: TENANT_B, upn: 'b@contoso.example', kind: 'graph-app' });
        for (const c of [a, other, foreign]) await store.putConnection(c);
        await store.startCheckRun(aRun(), [
          { upn: 'a@contoso.example', kind: 'graph-app' },
          { upn: 'b@contoso.example', kind: 'graph-app' },
          { upn: 'c@contoso.example', kind: 'graph-app' },
        ]);
        expect(await store.pendingCheckWork(TENANT_A, 'run-1', 10)).toEqual([
          { item: { upn: 'a@contoso.example', kind: 'graph-app', done: false }, connection: a },
          // b exists only in tenant B: tenant A's item has no connection.
          { item: { upn: 'b@contoso.example', kind: 'graph-app', done: false } },
          { item: { upn: 'c@contoso.example', kind: 'graph-app', done: false } },
        ]);
        // From after a given item: what a run has handed out is not read again.
        expect((await store.pendingCheckWork(TENANT_A, 'run-1', 10, { upn: 'a@contoso.example', kind: 'graph-app' })).map((w) => w.item.upn)).toEqual([
          'b@contoso.example',
          'c@contoso.example',
        ]);
        expect(await store.pendingCheckWork(TENANT_A, 'run-1', 10, { upn: 'c@contoso.example', kind: 'graph-app' })).toEqual([]);
        expect(await store.completeCheckItem({ runId: 'run-1', tenantId: TENANT_A, upn: a.upn, kind: a.kind, connection: a, from: 'connected' })).toBe(true);
        expect((await store.pendingCheckWork(TENANT_A, 'run-1', 1)).map((w) => w.item.upn)).toEqual(['b@contoso.example']);
        expect(await store.pendingCheckWork(TENANT_A, 'run-1', 10)).toEqual((await store.pendingCheckItems(TENANT_A, 'run-1', 10)).map((item) => ({ item })));
      });

      it('marks the item of a connection deleted meanwhile done without writing it', async () => {
        await store.startCheckRun(aRun(), [{ upn: 'gone@contoso.example', kind: 'ews-basic' }]);
        expect(await store.completeCheckItem({ runId: 'run-1', tenantId: TENANT_A, upn: 'gone@contoso.example', kind: 'ews-basic', from: 'connected' })).toBe(
          true,
        );
        expect(await store.getConnections(TENANT_A, 'gone@contoso.example')).toEqual([]);
        expect(await store.pendingCheckItems(TENANT_A, 'run-1', 10)).toEqual([]);
        expect((await store.checkRunOutcome(TENANT_A, 'run-1')).changes).toEqual([]);
        // Another tenant cannot complete tenant A's items.
        await store.startCheckRun(aRun({ id: 'run-2', tenantId: TENANT_B }), []);
        expect(await store.completeCheckItem({ runId: 'run-1', tenantId: TENANT_B, upn: 'gone@contoso.example', kind: 'ews-basic', from: 'connected' })).toBe(
          false,
        );
      });

      it('leaves a connection its user changed or removed while it was checked as they left it', async () => {
        const seen = aConnection({ upn: 'a@contoso.example', lastCheckedAt: iso(MIN) });
        const removed = aConnection({ upn: 'b@contoso.example', lastCheckedAt: iso(MIN) });
        const untouched = aConnection({ upn: 'c@contoso.example', kind: 'graph-app', lastCheckedAt: iso(MIN) });
        await store.importConnections([seen, removed, untouched]);
        await store.startCheckRun(aRun(), [seen, removed, untouched]);
        // Meanwhile a reconnects with more scopes and b disconnects.
        const reconnected = { ...seen, grantedScopes: ['openid', 'Mail.ReadWrite', 'Calendars.ReadWrite'], updatedAt: iso(2 * MIN) };
        await store.putConnection(reconnected);
        await store.deleteConnection(TENANT_A, removed.upn, removed.kind);
        const lost = (c: ConnectionRecord) => ({
          runId: 'run-1',
          tenantId: TENANT_A,
          upn: c.upn,
          kind: c.kind,
          from: c.state,
          unchangedSince: c.updatedAt,
          connection: {
            ...c,
            state: 'needs-reconnect' as const,
            // What the token was granted is the check's finding too.
            grantedScopes: ['openid'],
            error: { code: 'REFRESH_TOKEN_REVOKED' as const, message: 'm' },
            lastCheckedAt: iso(3 * MIN),
            updatedAt: iso(3 * MIN),
          },
        });
        expect(await store.completeCheckItems([lost(seen), lost(removed), lost(untouched)])).toEqual([true, true, true]);
        expect(await store.getConnections(TENANT_A, seen.upn)).toEqual([reconnected]);
        expect(await store.getConnections(TENANT_A, removed.upn)).toEqual([]);
        expect(await store.getConnections(TENANT_A, untouched.upn)).toEqual([lost(untouched).connection]);
        expect(await store.pendingCheckItems(TENANT_A, 'run-1', 10)).toEqual([]);
        expect((await store.getCheckRun(TENANT_A, 'run-1'))?.checked).toBe(3);
        expect(await store.checkRunOutcome(TENANT_A, 'run-1')).toEqual({
          byState: { connected: 2, 'needs-reconnect': 1 },
          changes: [{ upn: untouched.upn, kind: 'graph-app', done: true, from: 'connected', to: 'needs-reconnect', code: 'REFRESH_TOKEN_REVOKED' }],
        });
        expect(await store.connectionHistory(TENANT_A, seen.upn)).toEqual([]);
        expect(await store.connectionHistory(TENANT_A, removed.upn)).toEqual([]);
        expect((await store.connectionHistory(TENANT_A, untouched.upn)).map((h) => [h.from, h.to])).toEqual([['connected', 'needs-reconnect']]);
      });

      it('finishes a run once; then a new one can start', async () => {
        await store.startCheckRun(aRun(), []);
        await store.finishCheckRun(TENANT_A, 'run-1', 'done', iso(MIN));
        await store.finishCheckRun(TENANT_A, 'run-1', 'failed', iso(2 * MIN));
        expect(await store.getCheckRun(TENANT_A, 'run-1')).toEqual(aRun({ status: 'done', finishedAt: iso(MIN) }));
        expect(await store.listRunningCheckRuns()).toEqual([]);
        expect((await store.startCheckRun(aRun({ id: 'run-2', startedAt: iso(3 * MIN) }), [])).started).toBe(true);
        expect((await store.latestCheckRun(TENANT_A))?.id).toBe('run-2');
        expect(await store.getCheckRun(TENANT_B, 'run-1')).toBeUndefined();
        expect(await store.latestCheckRun(TENANT_B)).toBeUndefined();
      });
    });

    describe('tenant isolation', () => {
      it('shows tenant B nothing of tenant A', async () => {
        const st = anAuthState();
        await store.ensureTenant(TENANT_A);
        await store.putUser(aUser({ roles: ['ConnectionCenter.Admin'] }));
        await store.setDomains(TENANT_A, ['contoso.example']);
        await store.putServiceAccount(aServiceAccount());
        await store.putServiceAccountTest(aTest());
        await store.importConnections([aConnection(), aConnection({ kind: 'ews-basic' })]);
        await store.putTokenCache(TENANT_A, 'oid-adele.tid', '{"secret":"x"}');
        await store.putConversation(aConversation());
        await store.enqueue([anItem()]);
        await store.audit({ tenantId: TENANT_A, actor: 'admin', action: 'sa.saved' });
        await store.putAuthState(st);

        expect(await store.getTenant(TENANT_B)).toBeUndefined();
        expect(await store.getUser(TENANT_B, 'oid-adele')).toBeUndefined();
        expect(await store.listUsersWithRole(TENANT_B, 'ConnectionCenter.Admin')).toEqual([]);
        expect(await store.getDomains(TENANT_B)).toEqual([]);
        expect(await store.getServiceAccount(TENANT_B)).toBeUndefined();
        expect(await store.getServiceAccountTests(TENANT_B)).toEqual([]);
        expect(await store.getConnections(TENANT_B, 'adele@contoso.example')).toEqual([]);
        expect(await store.queryConnections(TENANT_B, {})).toEqual({ items: [] });
        expect(await store.queryConnections(TENANT_B, { search: 'adele' })).toEqual({ items: [] });
        expect(await store.countConnections(TENANT_B)).toEqual([]);
        expect(await store.getTokenCache(TENANT_B, 'oid-adele.tid')).toBeUndefined();
        expect(await store.getConversation(TENANT_B, 'a:personal-adele')).toBeUndefined();
        expect(await store.listConversations(TENANT_B)).toEqual([]);
        expect(await store.findPersonalConversation(TENANT_B, 'adele@contoso.example')).toBeUndefined();
        expect(await store.listOutbox(TENANT_B)).toEqual([]);
        expect(await store.listAudit(TENANT_B)).toEqual([]);

        // Writes and deletes through tenant B leave tenant A untouched.
        expect(await store.deleteServiceAccount(TENANT_B)).toBe(false);
        expect(await store.deleteConnection(TENANT_B, 'adele@contoso.example', 'ews-basic')).toBe(false);
        expect(await store.deleteTokenCache(TENANT_B, 'oid-adele.tid')).toBe(false);
        expect(await store.deleteConversation(TENANT_B, 'a:personal-adele')).toBe(false);
        await store.setDomains(TENANT_B, ['fabrikam.example']);
        await store.putTokenCache(TENANT_B, 'oid-adele.tid', '{"secret":"b"}');
        expect(await store.getDomains(TENANT_A)).toEqual(['contoso.example']);
        expect(await store.getTokenCache(TENANT_A, 'oid-adele.tid')).toBe('{"secret":"x"}');
        expect(await store.getServiceAccount(TENANT_A)).toEqual(aServiceAccount());
        expect(await store.getConnections(TENANT_A, 'adele@contoso.example')).toHaveLength(2);
        expect(await store.listTenants()).toHaveLength(1);
        expect(await store.takeAuthState(st.state, new Date(T0))).toMatchObject({ tenantId: TENANT_A });
      });
    });
  });
}
