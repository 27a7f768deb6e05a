/**
 * Store figures (not a timed test): `npx tsx bench/store.ts [connections]`.
 * Prints how long the SQLite store takes for the operations the API does most.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring, openStore } from '../src/store';
import type { ConnectionRecord } from '../src/store/types';
import { CONNECTION_KINDS, CONNECTION_STATES } from '../src/domain/connection';

const TENANT = '11111111-1111-4111-8111-111111111111';

async function time<T>(label: string, n: number, fn: () => Promise<T>): Promise<T> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms  ${((ms * 1000) / n).toFixed(1).padStart(8)} µs/op  (n=${n})`);
  return out;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 20_000);
  const dir = mkdtempSync(join(tmpdir(), 'cc-bench-store-'));
  const file = join(dir, 'bench.db');
  const store = await openStore(`sqlite:${file}`, Keyring.fromKeys(randomBytes(32)));
  const now = new Date().toISOString();
  try {
    const records: ConnectionRecord[] = Array.from({ length: count }, (_, i) => ({
      tenantId: TENANT,
      upn: `user${String(i).padStart(6, '0')}@contoso.example`,
      displayName: `User ${i}`,
      kind: CONNECTION_KINDS[i % CONNECTION_KINDS.length],
      state: CONNECTION_STATES[i % CONNECTION_STATES.length],
      grantedScopes: ['openid', 'Mail.ReadWrite'],
      createdAt: now,
      updatedAt: now,
    }));
    await time('importConnections (one transaction)', count, () => store.importConnections(records));
    await time('putConnection (one by one, 1,000)', 1000, async () => {
      for (let i = 0; i < 1000; i++) await store.putConnection({ ...records[i], state: 'connected' });
    });
    await time('getConnections by upn (1,000)', 1000, async () => {
      for (let i = 0; i < 1000; i++) await store.getConnections(TENANT, records[(i * 7919) % count].upn);
    });
    await time('queryConnections: page through all (100/page)', count, async () => {
      let cursor: string | undefined;
      do cursor = (await store.queryConnections(TENANT, { limit: 100, cursor })).nextCursor;
      while (cursor);
    });
    await time('queryConnections: search "user01", first page', 1, () => store.queryConnections(TENANT, { search: 'user01', limit: 50 }));
    await time('queryConnections: state filter, first page', 1, () => store.queryConnections(TENANT, { state: 'needs-reconnect', limit: 50 }));
    await time('countConnections', 1, () => store.countConnections(TENANT));
    const cache = JSON.stringify({
      RefreshToken: { k: { secret: randomBytes(600).toString('base64') } },
      AccessToken: { k: { secret: randomBytes(1500).toString('base64') } },
    });
    await time('putTokenCache (encrypt + upsert, 2,000)', 2000, async () => {
      for (let i = 0; i < 2000; i++) await store.putTokenCache(TENANT, `oid-${i}.tid`, cache);
    });
    await time('getTokenCache (select + decrypt, 2,000)', 2000, async () => {
      for (let i = 0; i < 2000; i++) await store.getTokenCache(TENANT, `oid-${i}.tid`);
    });
    await time('enqueue 1,000 (half duplicates)', 1000, () =>
      store.enqueue(
        Array.from({ length: 1000 }, (_, i) => ({
          tenantId: TENANT,
          kind: 'reconnect.nudge',
          idempotencyKey: `k${i % 500}`,
          conversationId: 'c',
          payload: { i },
        })),
      ),
    );
    await time('audit append (1,000)', 1000, async () => {
      for (let i = 0; i < 1000; i++) await store.audit({ tenantId: TENANT, actor: 'bench', action: 'bench.write', details: { i } });
    });
    await store.close();
    console.log(`database file: ${(statSync(file).size / 1024 / 1024).toFixed(1)} MB for ${count} connections`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
