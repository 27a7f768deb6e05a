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
