/**
 * GET /api/me/connection with valid SSO tokens under autocannon (50 connections, 10 s), on the
 * SQLite store and on the PostgreSQL store, beside a bare restify route in the same run. Prints
 * each throughput, p99, the ratio of each store to the bare route and PostgreSQL's to SQLite's.
 * Targets: ratio ≥ 0.6 of the bare route and p99 ≤ 20 ms. Prints figures; asserts nothing.
 *
 * Every route gets the same requests (one prebuilt request per user token, from the same load
 * generator) after the same warm-up, so the ratio measures the server, not a difference in what the
 * client had to build or how warm the JIT was. PostgreSQL is BENCH_DATABASE_URL, TEST_DATABASE_URL
 * or a throw-away server (as the tests start one); without any, SQLite only. See bench/README.md.
 *
 *   npm run bench:api [-- --seconds 10 --connections 50 --users 200 --warmup 2]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import restify from 'restify';
import { startTestProduct, type TestProduct } from '../tests/helpers/product';
import { openBenchDatabase } from '../tests/helpers/postgres-server';
import { numberArg } from './args';

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Cores used by the load generator. */
  cpu: number;
  /** Cores used by this process (the server under load) during the run. */
  serverCpu: number;
}

/** Runs bench/load.ts in a child process: the load must not share the server's event loop. */
function run(url: string, seconds: number, connections: number, tokens: string[]): Promise<LoadResult> {
  const jobDir = mkdtempSync(path.join(tmpdir(), 'cc-bench-'));
  const jobFile = path.join(jobDir, 'job.json');
  writeFileSync(jobFile, JSON.stringify({ url, seconds, connections, tokens }));
  const cpu0 = process.cpuUsage();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(__dirname, 'load.ts'), jobFile], { maxBuffer: 1 << 20 }, (err, stdout) => {
      const cpu = process.cpuUsage(cpu0);
      rmSync(jobDir, { recursive: true, force: true });
      if (err) reject(err);
      else resolve({ ...(JSON.parse(stdout) as Omit<LoadResult, 'serverCpu'>), serverCpu: (cpu.user + cpu.system) / 1e6 / seconds });
    });
  });
}

async function main() {
  const seconds = numberArg('seconds', 10);
  const connections = numberArg('connections', 50);
  const userCount = numberArg('users', 200);
  const warmup = numberArg('warmup', 2);

  const bare = restify.createServer();
  bare.get('/bare', async (_req: restify.Request, res: restify.Response) => {
    res.json({ ok: true });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/bare`;

  const pg = await openBenchDatabase('bench_api');
  if (!pg) console.log('PostgreSQL: no server (set BENCH_DATABASE_URL or install PostgreSQL); SQLite only.');
  const products: Array<{ name: string; product: TestProduct }> = [
    { name: 'GET /api/me/connection, SQLite', product: await startTestProduct({ env: { LOG_LEVEL: 'error' } }) },
  ];
  if (pg) products.push({ name: 'GET /api/me/connection, PostgreSQL', product: await startTestProduct({ env: { LOG_LEVEL: 'error', DATA_STORE: pg.url } }) });
  // Many distinct users so the token cache and the store are exercised, not one hot row. Tokens
  // from each product's own sandbox (each one trusts only its own).
  const tokensOf = async (product: TestProduct) => {
    const upns = product.sandbox.seed.users.map((u) => u.upn);
    const tokens: string[] = [];
    for (let i = 0; i < userCount; i++) tokens.push(await product.ssoToken(upns[i % upns.length]!));
    return tokens;
  };
  const targets = [{ name: 'bare restify route', url: bareUrl, tokens: await tokensOf(products[0]!.product) }];
  for (const { name, product } of products) targets.push({ name, url: `${product.url}/api/me/connection`, tokens: await tokensOf(product) });
  if (warmup > 0) for (const t of targets) await run(t.url, warmup, connections, t.tokens);
  const results: LoadResult[] = [];
  for (const t of targets) results.push(await run(t.url, seconds, connections, t.tokens));

  const bareResult = results[0]!;
  const line = (name: string, r: LoadResult) =>
    `  ${name.padEnd(36)} ${r.rps.toFixed(0).padStart(6)} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms   errors ${r.errors}   CPU: server ${r.serverCpu.toFixed(2)}, load generator ${r.cpu.toFixed(2)}`;
  console.log(`bench:api  ${connections} connections, ${seconds} s each after ${warmup} s warm-up, ${userCount} distinct users' tokens on every route`);
  targets.forEach((t, i) => console.log(line(t.name, results[i]!)));
  targets.slice(1).forEach((t, i) => {
    const r = results[i + 1]!;
    console.log(`  ${t.name}: ratio ${(r.rps / bareResult.rps).toFixed(2)} (target ≥ 0.60)   p99 ${r.p99} ms (target ≤ 20 ms)`);
  });
  if (results.length === 3) console.log(`  PostgreSQL / SQLite: ${(results[2]!.rps / results[1]!.rps).toFixed(2)} of the throughput`);

  bare.close();
  for (const { product } of products) await product.close();
  await pg?.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
