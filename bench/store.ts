/**
 * Store figures (not a timed test): `npm run bench:store [-- connections]` (default 100,000).
 * Fills the SQLite store and the PostgreSQL store with the same connections, then prints, side by
 * side: how long the operations the API does most take on each (and the ratio), and the query
 * plans of the admin views' queries (filters, search, counts, cursor paging) with their costs.
 *
 * PostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL names a server (a fresh database is created
 * on it and dropped afterwards); otherwise a throw-away server is started when PostgreSQL is
 * installed. Without one, only SQLite is measured.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Keyring, openStore, type Store } from '../src/store';
import { COUNT_CONNECTIONS_SQL, connectionQuerySql } from '../src/store/postgres';
import { COUNT_CONNECTIONS_SQLITE, connectionPageSql } from '../src/store/sqlite';
import type { ConnectionQuery, ConnectionRecord } from '../src/store/types';
import { CONNECTION_KINDS, type ConnectionState } from '../src/domain/connection';
import { findPostgresBinaries, startThrowawayPostgres, type ThrowawayPostgres } from '../tests/helpers/postgres-server';

const TENANT = '11111111-1111-4111-8111-111111111111';
const OTHER_TENANT = '22222222-2222-4222-8222-222222222222';
const keyring = Keyring.fromKeys(randomBytes(32));

interface Side {
  name: 'sqlite' | 'postgres';
  store: Store;
}

/** The admin views' queries (src/services/admin/overview.ts: list with filters, search, paging; summary counts). */
function adminQueries(records: ConnectionRecord[]): Array<{ label: string; query: ConnectionQuery }> {
  const middle = records[Math.floor(records.length / 2)];
  const cursor = Buffer.from(JSON.stringify({ u: middle.upn, k: middle.kind }), 'utf8').toString('base64url');
  return [
    { label: 'first page (50)', query: { limit: 50 } },
    { label: 'page after a cursor mid-way', query: { limit: 50, cursor } },
    { label: 'state = needs-reconnect', query: { state: 'needs-reconnect', limit: 50 } },
    { label: 'state = disconnected, mid-way', query: { state: 'disconnected', limit: 50, cursor } },
    { label: 'kind = ews-basic', query: { kind: 'ews-basic', limit: 50 } },
    { label: 'kind + state', query: { kind: 'ews-oauth', state: 'failing', limit: 50 } },
    { label: 'search "user04711" (one person)', query: { search: 'user04711', limit: 50 } },
    { label: 'search "fabrikam" (a domain, 1 in 20)', query: { search: 'fabrikam', limit: 50 } },
    { label: 'search "nobody" (no match)', query: { search: 'nobody', limit: 50 } },
  ];
}

/** Skewed like a real tenant: 60 % connected, 15 % needs-reconnect, …, 4 % disconnected. */
const STATE_MIX: Array<[ConnectionState, number]> = [
  ['connected', 60],
  ['needs-reconnect', 15],
  ['missing-permissions', 8],
  ['failing', 7],
  ['unknown', 6],
  ['disconnected', 4],
];
function stateOf(i: number): ConnectionState {
  let bucket = (i * 37) % 100;
  for (const [state, share] of STATE_MIX) {
    if (bucket < share) return state;
    bucket -= share;
  }
  return 'connected';
}

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

function row(label: string, cells: string[], widths = [46, 14, 14, 10]): string {
  return [label.padEnd(widths[0]), ...cells.map((c, i) => c.padStart(widths[i + 1]))].join(' ');
}

function fmt(ms: number | undefined): string {
  if (ms === undefined) return '—';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'cc-bench-store-'));
  const file = join(dir, 'bench.db');
  let server: ThrowawayPostgres | undefined;
  let pgDb: { url: string; drop(): Promise<void> } | undefined;
  const sides: Side[] = [];
  try {
    sides.push({ name: 'sqlite', store: await openStore(`sqlite:${file}`, keyring) });
    pgDb = await postgresDatabase((s) => (server = s));
    if (pgDb) sides.push({ name: 'postgres', store: await openStore(pgDb.url, keyring) });
    else console.log('PostgreSQL: no server (set BENCH_DATABASE_URL or install PostgreSQL); SQLite only.\n');

    const now = new Date().toISOString();
    const records: ConnectionRecord[] = Array.from({ length: count }, (_, i) => ({
      tenantId: TENANT,
      upn: `user${String(i).padStart(6, '0')}@${i % 20 === 0 ? 'fabrikam' : 'contoso'}.example`,
      displayName: `User ${i}`,
      kind: CONNECTION_KINDS[i % CONNECTION_KINDS.length],
      state: stateOf(i),
      grantedScopes: ['openid', 'Mail.ReadWrite'],
      createdAt: now,
      updatedAt: now,
    }));
    const others = records.slice(0, Math.floor(count / 10)).map((r) => ({ ...r, tenantId: OTHER_TENANT }));
    const queries = adminQueries(records);
    const cache = JSON.stringify({
      RefreshToken: { k: { secret: randomBytes(600).toString('base64') } },
      AccessToken: { k: { secret: randomBytes(1500).toString('base64') } },
    });

    type Op = { label: string; n: number; run: (s: Store, i: number) => Promise<unknown> };
    const ops: Op[] = [
      { label: `importConnections (${count.toLocaleString('en')} in one call)`, n: 1, run: (s) => s.importConnections(records) },
      { label: 'importConnections (another tenant, 10%)', n: 1, run: (s) => s.importConnections(others) },
      { label: 'putConnection (one by one)', n: 1000, run: (s, i) => s.putConnection({ ...records[i], state: 'connected' }) },
      { label: 'getConnections by upn', n: 1000, run: (s, i) => s.getConnections(TENANT, records[(i * 7919) % count].upn) },
      ...queries.map(({ label, query }) => ({ label: `query: ${label}`, n: 50, run: (s: Store) => s.queryConnections(TENANT, query) })),
      { label: 'countConnections (summary)', n: 20, run: (s) => s.countConnections(TENANT) },
      { label: 'putTokenCache (encrypt + upsert)', n: 1000, run: (s, i) => s.putTokenCache(TENANT, `oid-${i}.tid`, cache) },
      { label: 'getTokenCache (select + decrypt)', n: 1000, run: (s, i) => s.getTokenCache(TENANT, `oid-${i}.tid`) },
      {
        label: 'enqueue 100 (half duplicates)',
        n: 10,
        run: (s, j) =>
          s.enqueue(
            Array.from({ length: 100 }, (_, i) => ({
              tenantId: TENANT,
              kind: 'reconnect.nudge' as const,
              idempotencyKey: `k${j}-${i % 50}`,
              conversationId: 'c',
              payload: { i },
            })),
          ),
      },
      { label: 'audit append', n: 1000, run: (s, i) => s.audit({ tenantId: TENANT, actor: 'bench', action: 'bench.write', details: { i } }) },
    ];

    console.log(`Store benchmark: ${count.toLocaleString('en')} connections in one tenant (+10% in another); time per operation\n`);
    console.log(row('operation', ['sqlite', 'postgres', 'pg/sqlite']));
    for (const op of ops) {
      const ms: Partial<Record<Side['name'], number>> = {};
      for (const side of sides) {
        ms[side.name] = await time(op.n, (i) => op.run(side.store, i));
        if (op.label.startsWith('importConnections') && side.name === 'postgres') await analyze(pgDb!.url);
      }
      const ratio = ms.sqlite !== undefined && ms.postgres !== undefined ? `${(ms.postgres / ms.sqlite).toFixed(2)}×` : '—';
      console.log(row(`${op.label} (n=${op.n})`, [fmt(ms.sqlite), fmt(ms.postgres), ratio]));
    }

    console.log('\nQuery plans of the admin views (SQLite: EXPLAIN QUERY PLAN, which has no costs; PostgreSQL: EXPLAIN, estimated cost units)');
    const raw = new Database(file, { readonly: true });
    for (const { label, query } of [...queries, { label: 'countConnections (summary)', query: undefined }]) {
      console.log(`\n• ${label}`);
      console.log(`  sqlite:   ${sqlitePlan(raw, query)}`);
      if (pgDb) console.log(`  postgres: ${await postgresPlan(pgDb.url, query)}`);
    }
    raw.close();
    console.log(`\nSQLite database file: ${(statSync(file).size / 1024 / 1024).toFixed(1)} MB`);
    if (pgDb) console.log(`PostgreSQL database: ${await postgresSize(pgDb.url)}`);
  } finally {
    for (const side of sides) await side.store.close();
    await pgDb?.drop().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- SQLite plans: the statements SqliteStore runs, explained ------------------------------------

function sqlitePlan(db: Database.Database, query: ConnectionQuery | undefined): string {
  const steps = query
    ? (() => {
        const params: Record<string, unknown> = { tenantId: TENANT, limit: 51 };
        if (query.state) params.state = query.state;
        if (query.kind) params.kind = query.kind;
        if (query.search) params.search = query.search;
        if (query.cursor) Object.assign(params, { afterUpn: 'user050000@contoso.example', afterKind: 'ews-basic' });
        return db.prepare(`EXPLAIN QUERY PLAN ${connectionPageSql(params)}`).all(params);
      })()
    : db.prepare(`EXPLAIN QUERY PLAN ${COUNT_CONNECTIONS_SQLITE}`).all(TENANT);
  return (steps as Array<{ detail: string }>).map((s) => s.detail).join('; ');
}

// ---- PostgreSQL plans: the very statements PgStore runs ----------------------------------------

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function analyze(url: string): Promise<void> {
  // What autovacuum does soon after a bulk load: statistics, and the visibility map for index-only scans.
  await withClient(url, (c) => c.query('VACUUM ANALYZE connections'));
}

interface PlanNode {
  'Node Type': string;
  'Total Cost': number;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

async function postgresPlan(url: string, query: ConnectionQuery | undefined): Promise<string> {
  const { text, values } = query ? connectionQuerySql(TENANT, query, 51) : { text: COUNT_CONNECTIONS_SQL, values: [TENANT] };
  const rows = await withClient(url, (c) => c.query(`EXPLAIN (FORMAT JSON) ${text}`, values));
  const plan = (rows.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0].Plan;
  const nodes: string[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n['Index Name'] ? `${n['Node Type']} on ${n['Index Name']}` : n['Node Type']);
    n.Plans?.forEach(walk);
  };
  walk(plan);
  return `cost ${plan['Total Cost'].toFixed(2)}: ${nodes.join(' → ')}`;
}

async function postgresSize(url: string): Promise<string> {
  return withClient(url, async (c) => (await c.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS s')).rows[0].s as string);
}

async function postgresDatabase(onStart: (s: ThrowawayPostgres) => void): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  let serverUrl = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) {
    const bin = findPostgresBinaries();
    if (!bin) return undefined;
    const server = await startThrowawayPostgres(bin);
    onStart(server);
    serverUrl = server.url;
  }
  const name = `cc_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined) };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
