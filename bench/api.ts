/**
 * GET /api/me/connection with valid SSO tokens under autocannon (50 connections, 10 s), beside a
 * bare restify route in the same run. Prints both throughputs, their ratio and p99.
 * Targets (issue 4): ratio ≥ 0.6 of the bare route and p99 ≤ 20 ms. Prints figures; asserts nothing.
 *
 *   npm run bench:api [-- --seconds 10 --connections 50 --users 200]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import restify from 'restify';
import { startTestProduct } from '../tests/helpers/product';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Runs bench/load.ts in a child process: the load must not share the server's event loop. */
function run(url: string, seconds: number, connections: number, tokens?: string[]): Promise<LoadResult> {
  const jobFile = path.join(mkdtempSync(path.join(tmpdir(), 'cc-bench-')), 'job.json');
  writeFileSync(jobFile, JSON.stringify({ url, seconds, connections, tokens }));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(__dirname, 'load.ts'), jobFile], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout) as LoadResult);
    });
  });
}

async function main() {
  const seconds = arg('seconds', 10);
  const connections = arg('connections', 50);
  const userCount = arg('users', 200);

  const bare = restify.createServer();
  bare.get('/bare', async (_req: restify.Request, res: restify.Response) => {
    res.json({ ok: true });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/bare`;

  const product = await startTestProduct({ env: { LOG_LEVEL: 'error' } });
  // Many distinct users so the token cache and the store are exercised, not one hot row.
  const upns = product.sandbox.seed.users.map((u) => u.upn);
  const tokens: string[] = [];
  for (let i = 0; i < userCount; i++) tokens.push(await product.ssoToken(upns[i % upns.length]!));
  const bareResult = await run(bareUrl, seconds, connections);
  const apiResult = await run(`${product.url}/api/me/connection`, seconds, connections, tokens);
  const ratio = apiResult.rps / bareResult.rps;

  console.log(`bench:api  ${connections} connections, ${seconds} s each, ${userCount} distinct users`);
  console.log(
    `  bare restify route    ${bareResult.rps.toFixed(0).padStart(7)} req/s   p50 ${bareResult.p50} ms   p99 ${bareResult.p99} ms   errors ${bareResult.errors}`,
  );
  console.log(
    `  GET /api/me/connection ${apiResult.rps.toFixed(0).padStart(6)} req/s   p50 ${apiResult.p50} ms   p99 ${apiResult.p99} ms   errors ${apiResult.errors}`,
  );
  console.log(`  ratio ${ratio.toFixed(2)} (target ≥ 0.60)   p99 ${apiResult.p99} ms (target ≤ 20 ms)`);

  bare.close();
  await product.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
