/**
 * `npm test [-- jest args]`: prepare what the sandbox tests need before Jest starts, then run Jest.
 * Node reads NODE_EXTRA_CA_CERTS only when a process starts, so the local CA must exist and be named
 * here, before Jest and its workers are spawned.
 * Unless TEST_DATABASE_URL names a PostgreSQL server, a throw-away one is started for the run (when
 * PostgreSQL is installed) and stopped when Jest ends; see tests/helpers/postgres.ts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ensureCertificates } from '../src/sandbox/certs';
import { POSTGRES_URL_ENV } from '../tests/helpers/postgres';
import { findPostgresBinaries, startThrowawayPostgres, type ThrowawayPostgres } from '../tests/helpers/postgres-server';

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  // One CA per checkout, reused across runs (regenerated when near expiry).
  const certsDir = path.join(os.tmpdir(), `connection-center-test-ca-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
  const certs = await ensureCertificates(certsDir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_EXTRA_CA_CERTS: certs.caCertPath,
    SANDBOX_CERTS_DIR: certsDir,
    // restify's optional HTTP/2 dependency touches a deprecated Node API at load: noise in test output.
    NODE_OPTIONS: [process.env.NODE_OPTIONS, '--disable-warning=DEP0111'].filter(Boolean).join(' '),
  };
  delete env.NODE_ENV;

  // The e2e tests serve tab/dist: rebuild it when a source of the tab changed since.
  const { ensureBuilt: ensureTabBuilt } = require('./build-tab') as { ensureBuilt: (log?: (line: string) => void) => number };
  if (ensureTabBuilt((line) => process.stdout.write(`${line}\n`)) !== 0) {
    process.stderr.write('Building the tab failed; the tests that serve the tab would fail too.\n');
    return 1;
  }

  // tests/integration/startup.test.ts runs the product as `npm start` does: from the compiled dist/.
  const { ensureBuilt } = require('./build-server') as { ensureBuilt: (log?: (line: string) => void) => number };
  if (ensureBuilt((line) => process.stdout.write(`${line}\n`)) !== 0) {
    process.stderr.write('Compiling the server failed; the start-up tests would fail too.\n');
    return 1;
  }

  const postgres = await startPostgres(env);
  try {
    const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
    const child = spawn(process.execPath, [jest, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on('SIGINT', forward('SIGINT'));
    process.on('SIGTERM', forward('SIGTERM'));
    return await new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
  } finally {
    await postgres?.stop();
  }
}

/** The PostgreSQL server for the Postgres store suites: the caller's, a throw-away one, or none. */
async function startPostgres(env: NodeJS.ProcessEnv): Promise<ThrowawayPostgres | undefined> {
  if (env[POSTGRES_URL_ENV]?.trim()) return undefined;
  const bin = findPostgresBinaries();
  if (!bin) {
    process.stdout.write(`note: PostgreSQL is not installed and ${POSTGRES_URL_ENV} is not set: the Postgres store suites are skipped\n`);
    return undefined;
  }
  try {
    const server = await startThrowawayPostgres(bin);
    env[POSTGRES_URL_ENV] = server.url;
    return server;
  } catch (err) {
    // Under CI the Postgres suites must run; elsewhere they say why they are skipped.
    if (env.CI === 'true') throw err;
    process.stdout.write(
      `note: could not start a throw-away PostgreSQL (${err instanceof Error ? err.message : String(err)}): the Postgres store suites are skipped\n`,
    );
    return undefined;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`scripts/test.ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
