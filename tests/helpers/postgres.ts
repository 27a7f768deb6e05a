/**
 * How a test file finds PostgreSQL: TEST_DATABASE_URL, set by you or by `npm test`
 * (scripts/test.ts starts a throw-away server when the binaries are installed). Each test file
 * gets its own fresh database on that server, so files run in parallel without meeting.
 * With no server, `describePostgres` skips its suite and says why, except under CI=true, where a
 * missing server fails the run instead.
 */
import { randomBytes } from 'node:crypto';
import { sql } from './postgres-server';

export const POSTGRES_URL_ENV = 'TEST_DATABASE_URL';

export function postgresServerUrl(): string | undefined {
  const url = process.env[POSTGRES_URL_ENV]?.trim();
  return url ? url : undefined;
}

/** What a Postgres suite does in this environment: run against the server, skip (saying why), or fail. */
export function postgresSuiteMode(env: NodeJS.ProcessEnv = process.env): { mode: 'run' | 'skip' | 'fail'; why?: string } {
  if (env[POSTGRES_URL_ENV]?.trim()) return { mode: 'run' };
  const why = `no PostgreSQL server: set ${POSTGRES_URL_ENV}=postgres://user:pass@host:port/db, or install PostgreSQL (initdb, postgres) and run npm test`;
  return { mode: env.CI === 'true' ? 'fail' : 'skip', why };
}

/** `describe` when a server is available; otherwise a skipped suite (or, under CI, a failing one). */
export function describePostgres(name: string, body: () => void): void {
  const { mode, why } = postgresSuiteMode();
  if (mode === 'run') {
    describe(name, body);
  } else if (mode === 'fail') {
    describe(name, () => {
      it('needs a PostgreSQL server under CI', () => {
        throw new Error(`${name}: ${why}`);
      });
    });
  } else {
    process.stderr.write(`SKIPPED "${name}": ${why}\n`);
    describe.skip(name, body);
  }
}

export interface TestDatabase {
  /** URL of the new database, same server and credentials as TEST_DATABASE_URL. */
  url: string;
  /** Drops the database (closing anything still connected to it). */
  drop(): Promise<void>;
}

/** Creates an empty database with a unique name on the test server. */
export async function createTestDatabase(label = 'cc'): Promise<TestDatabase> {
  const server = postgresServerUrl();
  if (!server) throw new Error(`${POSTGRES_URL_ENV} is not set`);
  const name = `${label
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  // A linguistic default collation where the server has ICU: the store must not depend on the
  // database's locale for its ordering (its columns say COLLATE "C").
  await admin(server, `CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`).catch(() =>
    admin(server, `CREATE DATABASE "${name}"`),
  );
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => admin(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function admin(server: string, text: string): Promise<void> {
  await sql(server, text);
}
