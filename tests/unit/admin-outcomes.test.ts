/**
 * The admin service tells its subscribers (in the server: the bot's alerts) about every stored test of
 * the saved configuration, through an explicit subscription instead of a callback fixed at
 * construction, so the bot can be built after the service without a forward reference.
 */
import { randomBytes } from 'node:crypto';
import type { ServiceAccountTestRecord } from '../../src/store/types';
import { FEATURES } from '../../src/domain/features';
import type { Logger } from '../../src/log';
import { AdminService } from '../../src/services/admin';
import type { ServiceAccountTesterPort, ServiceAccountTestResult } from '../../src/services/ports';
import { Keyring, SqliteStore } from '../../src/store';
import { aServiceAccount, TENANT_A } from '../contract/store.contract';

const RESULT: ServiceAccountTestResult = {
  ok: true,
  steps: [{ id: 'tenant', status: 'passed', message: 'The tenant was found.' }],
  features: Object.fromEntries(
    FEATURES.map((f) => [f, { required: [] as string[], granted: [] as string[], missing: [] as string[], available: true }]),
  ) as ServiceAccountTestResult['features'],
  grantedRoles: [],
};

function setup() {
  const store = SqliteStore.open(':memory:', Keyring.fromKeys(randomBytes(32)));
  const errors: unknown[] = [];
  const logger = { error: (o: unknown) => errors.push(o), warn: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;
  const tester: ServiceAccountTesterPort = {
    run: async () => RESULT,
    verifiedDomains: async () => [],
    resolveTenant: async () => TENANT_A,
  };
  const admin = new AdminService({
    store,
    tester,
    logger,
    now: () => new Date('2026-03-01T12:00:00Z'),
    authorityHost: 'https://login.example',
    hashKey: randomBytes(32),
  });
  return { store, admin, errors };
}

test('every subscriber hears each stored test of the saved configuration until it unsubscribes', async () => {
  const { store, admin } = setup();
  await store.putServiceAccount(aServiceAccount({ tenant: TENANT_A }));
  const heard: Array<[string, ServiceAccountTestRecord | undefined, ServiceAccountTestRecord]> = [];
  const unsubscribe = admin.onTestOutcome(async (tenantId, previous, current) => {
    heard.push([tenantId, previous, current]);
  });

  await admin.testSaved(TENANT_A, 'system');
  await admin.testSaved(TENANT_A, 'system');
  expect(heard).toHaveLength(2);
  expect(heard[0]![0]).toBe(TENANT_A);
  expect(heard[0]![1]).toBeUndefined();
  expect(heard[0]![2]).toMatchObject({ ok: true, ranBy: 'system', steps: RESULT.steps });
  expect(heard[1]![1]).toMatchObject({ ok: true });

  unsubscribe();
  await admin.testSaved(TENANT_A, 'system');
  expect(heard).toHaveLength(2);
  await store.close();
});

test('a failing subscriber is logged and neither fails the test nor silences the others', async () => {
  const { store, admin, errors } = setup();
  await store.putServiceAccount(aServiceAccount({ tenant: TENANT_A }));
  let heard = 0;
  admin.onTestOutcome(async () => {
    throw new Error('the outbox is down');
  });
  admin.onTestOutcome(async () => {
    heard++;
  });

  await expect(admin.testSaved(TENANT_A, 'system')).resolves.toMatchObject({ ok: true });
  expect(heard).toBe(1);
  expect(errors).toHaveLength(1);
  await store.close();
});
