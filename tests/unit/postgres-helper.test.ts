/** How the Postgres suites decide to run, skip or fail (tests/helpers/postgres.ts). */
import { postgresSuiteMode } from '../helpers/postgres';

describe('Postgres suites without a server', () => {
  it('run when TEST_DATABASE_URL names a server, in CI or not', () => {
    expect(postgresSuiteMode({ TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' }).mode).toBe('run');
    expect(postgresSuiteMode({ TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', CI: 'true' }).mode).toBe('run');
  });

  it('are skipped, saying why and what to do, outside CI', () => {
    for (const env of [{}, { TEST_DATABASE_URL: '  ' }, { CI: 'false' }]) {
      const { mode, why } = postgresSuiteMode(env);
      expect(mode).toBe('skip');
      expect(why).toMatch(/TEST_DATABASE_URL=postgres:\/\//);
      expect(why).toMatch(/install PostgreSQL/);
    }
  });

  it('fail under CI=true instead of being skipped', () => {
    expect(postgresSuiteMode({ CI: 'true' }).mode).toBe('fail');
  });
});
