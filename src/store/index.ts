/**
 * The store entry point: `DATA_STORE` → an open, migrated Store.
 * `sqlite:<path>` (relative to the working directory), `sqlite::memory:` (tests), or
 * `postgres://user:pass@host:port/db` (also `postgresql://`) for several instances sharing one store.
 */
import { resolve } from 'node:path';
import type { Keyring } from './crypto';
import { StoreOpenError } from './errors';
import { MEMORY, SqliteStore } from './sqlite';
import type { Store } from './types';

export { Keyring, KeyringError, keyIdOf } from './crypto';
export { StoreOpenError, type StoreOpenReason } from './errors';
export { SqliteStore } from './sqlite';
export type { PgStore } from './postgres';
export { LATEST_SCHEMA_VERSION } from './migrations';
export type * from './types';

/** The default when DATA_STORE is unset: an embedded SQLite database under ./data. */
export const DEFAULT_DATA_STORE = 'sqlite:data/connection-center.db';

/** `now` is the clock the store stamps records with (the system clock by default). */
export async function openStore(dataStore: string, keyring: Keyring, options: { now?: () => Date } = {}): Promise<Store> {
  if (isPostgresUrl(dataStore)) {
    // Loaded only when asked for: the pg driver adds start-up time a SQLite deployment does not need.
    const { PgStore } = await import('./postgres');
    return PgStore.open(String(dataStore).trim(), keyring, options);
  }
  return SqliteStore.open(resolveSqlitePath(dataStore), keyring, options);
}

/** True for a `postgres://` or `postgresql://` DATA_STORE value. */
export function isPostgresUrl(dataStore: string): boolean {
  return /^postgres(ql)?:\/\//i.test(String(dataStore ?? '').trim());
}

/** Absolute database path (or `:memory:`) for a `sqlite:` DATA_STORE value; throws StoreOpenError otherwise. */
export function resolveSqlitePath(dataStore: string): string {
  const value = String(dataStore ?? '').trim();
  if (!value.startsWith('sqlite:')) {
    throw new StoreOpenError(
      'unsupported',
      value || '(empty)',
      'DATA_STORE must look like sqlite:<path>, sqlite::memory: or postgres://user:pass@host:port/db',
    );
  }
  const rest = value.slice('sqlite:'.length);
  if (rest === MEMORY) return MEMORY;
  if (rest === '') throw new StoreOpenError('unsupported', value, 'DATA_STORE names no file (expected sqlite:<path>)');
  return resolve(process.cwd(), rest);
}
