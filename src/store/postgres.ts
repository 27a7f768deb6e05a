/**
 * The shared Store: PostgreSQL through `pg` (a pool per process), for several instances of the
 * server at once (`DATA_STORE=postgres://user:pass@host:port/db`). It behaves exactly like the
 * SQLite store (same validation, ordering, cursors and errors: the shared rules live in
 * records.ts and shared/); what differs is how writes stay atomic when other processes write too:
 * multi-statement writes run in one transaction, and ones that replace a whole set take an
 * advisory lock for it. Secret fields are sealed with the Keyring before they leave the process.
 *
 * The store is composed of one repository per record group (src/store/postgres/), all sharing the
 * pool; opening, migrating and key rotation live in postgres/lifecycle.ts.
 */
import type { Keyring } from './crypto';
import { PgAudit } from './postgres/audit';
import { PgChecks } from './postgres/checks';
import { PgConnections } from './postgres/connections';
import { PgConversations } from './postgres/conversations';
import type { PgContext } from './postgres/db';
import { PgLeases } from './postgres/leases';
import { PgLifecycle, openPool, redactUrl } from './postgres/lifecycle';
import { PgOutbox } from './postgres/outbox';
import { PgReach } from './postgres/reach';
import { PgSecrets } from './postgres/secrets';
import { PgServiceAccounts } from './postgres/service-accounts';
import { PgTenants } from './postgres/tenants';
import { PgUsers } from './postgres/users';
import { composed } from './shared/compose';
import type { Store } from './types';

export { COUNT_CONNECTIONS_SQL, connectionQuerySql } from './postgres/connections';
export { redactUrl } from './postgres/lifecycle';

export interface PgStoreOptions {
  /** The clock that stamps records (createdAt, updatedAt, audit times); the system clock by default. */
  now?: () => Date;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** How long opening waits for the server (ms, default 10 s). */
  connectTimeoutMs?: number;
}

type PgStoreMembers = Store & Pick<PgLifecycle, 'rotateKeys'>;

export class PgStore extends composed<PgStoreMembers>() implements Store {
  /** The DATA_STORE value with its password masked, safe for messages and logs. */
  readonly location: string;

  private constructor(context: PgContext, location: string) {
    super([
      new PgLifecycle(context),
      new PgTenants(context),
      new PgUsers(context),
      new PgServiceAccounts(context),
      new PgConnections(context),
      new PgSecrets(context),
      new PgConversations(context),
      new PgOutbox(context),
      new PgReach(context),
      new PgChecks(context),
      new PgLeases(context),
      new PgAudit(context),
    ]);
    this.location = location;
  }

  /**
   * Connects and migrates (under an advisory lock, so concurrent starts migrate once). Anything
   * that stops it throws StoreOpenError naming the server, never the password; another
   * application's schema or a newer one is left as it was.
   */
  static async open(url: string, keyring: Keyring, options: PgStoreOptions = {}): Promise<PgStore> {
    const location = redactUrl(url);
    const { pool, changes } = await openPool(url, location, options);
    return new PgStore({ pool, changes, keyring, now: options.now ?? (() => new Date()) }, location);
  }
}
