/**
 * The load generator for bench/api.ts, in its own process so that it does not share an event loop
 * with the server it measures. Reads a JSON job file, prints autocannon's result as JSON.
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
  let next = 0;
  const result = await autocannon({
    url: job.url,
    duration: job.seconds,
    connections: job.connections,
    ...(job.tokens?.length
      ? {
          requests: [
            {
              method: 'GET' as const,
              setupRequest: (req: autocannon.Request) => ({
                ...req,
                headers: { ...req.headers, authorization: `Bearer ${job.tokens![next++ % job.tokens!.length]}` },
              }),
            },
          ],
        }
      : {}),
  });
  process.stdout.write(
    JSON.stringify({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
