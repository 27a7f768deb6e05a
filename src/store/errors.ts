/** Why a data store could not be opened; start-up prints `message` (one line) and exits. */
export type StoreOpenReason =
  /** DATA_STORE is not a form this build understands. */
  | 'unsupported'
  /** The file exists but is not a readable SQLite database. */
  | 'corrupt'
  /** A SQLite database, but another application's (no schema_migrations table). */
  | 'foreign'
  /** The folder or the file cannot be created or written. */
  | 'unwritable'
  /** Written by a newer Connection Center (schema version above what this build knows). */
  | 'newer-schema'
  /** Anything else SQLite reported while opening or migrating. */
  | 'failed';

export class StoreOpenError extends Error {
  readonly reason: StoreOpenReason;
  /** Absolute path of the database file (or the DATA_STORE value when it could not be parsed). */
  readonly path: string;

  constructor(reason: StoreOpenReason, path: string, cause: string, options?: { cause?: unknown }) {
    super(`Cannot open the data store ${path}: ${cause.replace(/\s+/g, ' ').trim()}`, options);
    this.name = 'StoreOpenError';
    this.reason = reason;
    this.path = path;
  }
}

/** Network codes and PostgreSQL SQLSTATEs that mean the server is down or restarting, not that the query is wrong. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03']);

/**
 * True when a store call failed because the database could not be reached (down, restarting, the
 * connection dropped): the request may succeed later unchanged. The pg pool reconnects by itself.
 */
export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (UNREACHABLE_CODES.has(code) || code.startsWith('08')) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}
