/**
 * The load generator for bench/api.ts, in its own process so that it does not share an event loop
 * with the server it measures. Reads a JSON job file, prints autocannon's result as JSON, with the
 * CPU this process used (a load generator near one full core is itself the limit).
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

interface Job {
  url: string;
  seconds: number;
  connections: number;
  tokens?: string[];
}

async function main() {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
  const cpu0 = process.cpuUsage();
  // One prebuilt request per token, cycled by every connection: the generator then spends nothing
  // per request on building it (a per-request setupRequest costs it more CPU than the server).
  const result = await autocannon({
    url: job.url,
    duration: job.seconds,
    connections: job.connections,
    ...(job.tokens?.length ? { requests: job.tokens.map((t) => ({ method: 'GET' as const, headers: { authorization: `Bearer ${t}` } })) } : {}),
  });
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    JSON.stringify({
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx,
      cpu: (cpu.user + cpu.system) / 1e6 / job.seconds,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
