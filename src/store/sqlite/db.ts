/** What every SQLite repository works with: the one connection of the process, the keyring and the clock. */
import type Database from 'better-sqlite3';
import type { Keyring } from '../crypto';

export type Db = Database.Database;
export type Stmt = Database.Statement;

export interface SqliteContext {
  readonly db: Db;
  readonly keyring: Keyring;
  /** The clock that stamps records. */
  readonly now: () => Date;
}

/**
 * Runs `work` in a write transaction that takes the lock at its start (BEGIN IMMEDIATE): another
 * process's write waits for it instead of failing half way.
 */
export function immediate<T>(db: Db, work: () => T): T {
  return db.transaction(work).immediate();
}
