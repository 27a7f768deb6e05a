/**
 * GET /api/me/connection with valid SSO tokens under autocannon (50 connections, 10 s), beside a
 * bare restify route in the same run. Prints both throughputs, their ratio and p99.
 * Targets (issue 4): ratio ≥ 0.6 of the bare route and p99 ≤ 20 ms. Prints figures; asserts nothing.
 *
 *   npm run bench:api [-- --seconds 10 --connections 50 --users 200]
 */
import autocannon from 'autocannon';
import restify from 'restify';
import { startTestProduct } from '../tests/helpers/product';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function run(url: string, seconds: number, connections: number, requests?: autocannon.Request[]) {
  return autocannon({ url, duration: seconds, connections, ...(requests ? { requests } : {}) });
}

async function main() {
  const seconds = arg('seconds', 10);
  const connections = arg('connections', 50);
  const userCount = arg('users', 200);

  const bare = restify.createServer();
  bare.get('/bare', (_req: restify.Request, res: restify.Response) => {
    res.json({ ok: true });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/bare`;

  const product = await startTestProduct({ env: { LOG_LEVEL: 'error' } });
  // Many distinct users so the token cache and the store are exercised, not one hot row.
  const upns = product.sandbox.seed.users.map((u) => u.upn);
  const tokens: string[] = [];
  for (let i = 0; i < userCount; i++) tokens.push(await product.ssoToken(upns[i % upns.length]!));
  let next = 0;
  const requests: autocannon.Request[] = [
    {
      method: 'GET',
      path: '/api/me/connection',
      setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` } }),
    },
  ];

  const bareResult = await run(bareUrl, seconds, connections);
  const apiResult = await run(`${product.url}/api/me/connection`, seconds, connections, requests);
  const ratio = apiResult.requests.average / bareResult.requests.average;

  console.log(`bench:api  ${connections} connections, ${seconds} s each, ${userCount} distinct users`);
  console.log(`  bare restify route    ${bareResult.requests.average.toFixed(0).padStart(7)} req/s   p99 ${bareResult.latency.p99} ms   errors ${bareResult.errors + bareResult.non2xx}`);
  console.log(`  GET /api/me/connection ${apiResult.requests.average.toFixed(0).padStart(6)} req/s   p99 ${apiResult.latency.p99} ms   errors ${apiResult.errors + apiResult.non2xx}`);
  console.log(`  ratio ${ratio.toFixed(2)} (target ≥ 0.60)   p99 ${apiResult.latency.p99} ms (target ≤ 20 ms)`);

  bare.close();
  await product.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
