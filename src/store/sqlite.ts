/**
 * The embedded Store: SQLite through better-sqlite3 (WAL, one connection per process).
 * better-sqlite3 is synchronous, so each method runs to completion before the next one starts;
 * multi-statement writes still use transactions so they stay atomic against other processes.
 * Secret fields are sealed with the Keyring before they reach SQLite (see migrations.ts).
 *
 * The store is composed of one repository per record group (src/store/sqlite/), all sharing the
 * connection; opening, migrating and key rotation live in sqlite/lifecycle.ts.
 */
import type { Keyring } from './crypto';
import { StoreOpenError } from './errors';
import { composed } from './shared/compose';
import { SqliteAudit } from './sqlite/audit';
import { SqliteChecks } from './sqlite/checks';
import { SqliteConnections } from './sqlite/connections';
import { SqliteConversations } from './sqlite/conversations';
import type { SqliteContext } from './sqlite/db';
import { SqliteLeases } from './sqlite/leases';
import { SqliteLifecycle, openDatabase } from './sqlite/lifecycle';
import { SqliteOutbox } from './sqlite/outbox';
import { SqliteReach } from './sqlite/reach';
import { SqliteSecrets } from './sqlite/secrets';
import { SqliteServiceAccounts } from './sqlite/service-accounts';
import { SqliteTenants } from './sqlite/tenants';
import { SqliteUsers } from './sqlite/users';
import type { Store } from './types';

export { MEMORY } from './sqlite/lifecycle';
export { COUNT_CONNECTIONS_SQLITE, connectionPageSql } from './sqlite/connections';

export interface SqliteStoreOptions {
  /** The clock that stamps records (createdAt, updatedAt, audit times); the system clock by default. */
  now?: () => Date;
  /** How long a write waits for another process's lock (ms). */
  busyTimeoutMs?: number;
}

type SqliteStoreMembers = Store & Pick<SqliteLifecycle, 'changeStamp' | 'rotateKeys'>;

export class SqliteStore extends composed<SqliteStoreMembers>() implements Store {
  readonly file: string;

  private constructor(context: SqliteContext, file: string) {
    super([
      new SqliteLifecycle(context),
      new SqliteTenants(context),
      new SqliteUsers(context),
      new SqliteServiceAccounts(context),
      new SqliteConnections(context),
      new SqliteSecrets(context),
      new SqliteConversations(context),
      new SqliteOutbox(context),
      new SqliteReach(context),
      new SqliteChecks(context),
      new SqliteLeases(context),
      new SqliteAudit(context),
    ]);
    this.file = file;
  }

  /**
   * Opens (creating if needed) and migrates the database at `file` (absolute path or `:memory:`).
   * Anything that stops it throws StoreOpenError; a corrupt, foreign, newer or unwritable file is
   * left exactly as it was.
   */
  static open(file: string, keyring: Keyring, options: SqliteStoreOptions = {}): SqliteStore {
    const db = openDatabase(file, options.busyTimeoutMs ?? 5000);
    try {
      return new SqliteStore({ db, keyring, now: options.now ?? (() => new Date()) }, file);
    } catch (err) {
      db.close();
      throw new StoreOpenError('failed', file, err instanceof Error ? err.message : String(err), { cause: err });
    }
  }
}
