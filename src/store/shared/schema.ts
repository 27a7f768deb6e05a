/**
 * What both stores decide alike when they open a database: which schema version it is at, and
 * when to refuse it (another application's tables, or a newer build's schema). The SQL of each
 * migration stays with its store (migrations.ts, postgres-migrations.ts): the dialects differ.
 */
import { StoreOpenError } from '../errors';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The version a list of migrations brings a database to. */
export function latestVersion(migrations: readonly Migration[]): number {
  return migrations[migrations.length - 1]!.version;
}

/**
 * False for an empty database (nothing to check; migrations start from 0). Throws for tables
 * without schema_migrations: another application's, which `foreign` tells the operator about.
 */
export function hasOurSchema(location: string, tables: readonly string[], foreign: (tables: string) => string): boolean {
  if (tables.length === 0) return false;
  if (!tables.includes('schema_migrations')) throw new StoreOpenError('foreign', location, foreign(tables.slice(0, 5).join(', ')));
  return true;
}

/** The version read from schema_migrations, unless a newer build wrote it. */
export function checkVersion(location: string, version: number, latest: number): number {
  if (version > latest) {
    throw new StoreOpenError(
      'newer-schema',
      location,
      `it was written by a newer version of Connection Center (schema ${version}; this build knows up to ${latest}); upgrade the app or restore a backup`,
    );
  }
  return version;
}
