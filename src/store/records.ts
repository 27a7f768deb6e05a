/**
 * What every Store implementation must agree on, whatever holds the rows: input validation and its
 * messages, how records are normalised (lower-cased upn, search text), the paging cursor, the
 * associated data that binds each sealed value to its row, and how optional fields read back.
 * The PostgreSQL store uses these; they mirror the SQLite store's own rules exactly (the contract
 * suite and tests/unit/store-postgres.test.ts compare the two).
 */
import { createHash } from 'node:crypto';
import { AppError } from '../domain/errors';
import { isFeature, type Feature } from '../domain/features';
import { isConnectionKind, isConnectionState } from '../domain/connection';
import type { ConnectionRecord } from './types';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;
const MAX_ERROR_TEXT = 2000;

/** Drops null/undefined fields so records read back exactly as optional fields were written. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === null || o[k] === undefined) delete o[k];
  return o;
}

// AAD binds each sealed value to the row it belongs to; JSON arrays keep the parts unambiguous.
export const saAad = (tenantId: string) => JSON.stringify(['service-account', tenantId]);
export const tokenCacheAad = (tenantId: string, partitionKey: string) => JSON.stringify(['token-cache', tenantId, partitionKey]);
export const authStateAad = (stateHash: string) => JSON.stringify(['auth-state', stateHash]);
export const sessionAad = (idHash: string) => JSON.stringify(['session', idHash]);

/** Auth states and sessions are keyed by this hash: a copy of the database yields no live values. */
export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function nowIso(): string {
  return new Date().toISOString();
}

export function invalid(message: string): AppError {
  return new AppError('VALIDATION_FAILED', { message: `Invalid store input: ${message}.` });
}

export function notFoundOutbox(id: string): AppError {
  return new AppError('NOT_FOUND', { message: `Outbox item ${id} does not exist.` });
}

export function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field} must be a non-empty string`);
  return value;
}

export function toMs(iso: string, field: string): number {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  if (Number.isNaN(ms)) throw invalid(`${field} "${String(iso)}" is not a date`);
  return ms;
}

export function checkFeatures(features: readonly string[], field: string): Feature[] {
  if (!Array.isArray(features)) throw invalid(`${field} must be a list of features`);
  for (const f of features) if (!isFeature(f)) throw invalid(`${field} has an unknown feature "${String(f)}"`);
  return [...new Set(features as Feature[])];
}

export function clampLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(MAX_PAGE, Math.max(1, Math.floor(limit)));
}

export function clip(text: string): string {
  const t = String(text ?? '');
  return t.length > MAX_ERROR_TEXT ? `${t.slice(0, MAX_ERROR_TEXT)}…` : t;
}

/** The search term as stored text is compared: trimmed, NFC, lower-cased; empty means no search. */
export function searchTerm(search: string | undefined): string | null {
  return search?.trim().normalize('NFC').toLowerCase() || null;
}

export function encodeCursor(upn: string, kind: string): string {
  return Buffer.from(JSON.stringify({ u: upn, k: kind }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { u: string; k: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && typeof (v as { u?: unknown }).u === 'string' && typeof (v as { k?: unknown }).k === 'string') {
      return v as { u: string; k: string };
    }
  } catch {
    /* fall through */
  }
  throw invalid('cursor is not a cursor this store issued');
}

export interface ConnectionParams {
  tenantId: string;
  upn: string;
  kind: string;
  oid: string | null;
  displayName: string | null;
  /** Lower-cased upn and display name, the text `search` matches. */
  searchText: string;
  state: string;
  grantedScopes: string;
  homeAccountId: string | null;
  lastCheckedAt: string | null;
  lastSyncAt: string | null;
  error: string | null;
  featureResults: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Validates a connection record (naming `where` in the error) and turns it into column values. */
export function connectionParams(r: ConnectionRecord, where: string): ConnectionParams {
  if (!r || typeof r !== 'object') throw invalid(`${where} is not an object`);
  requireText(r.tenantId, `${where}.tenantId`);
  const upn = requireText(r.upn, `${where}.upn`).trim().toLowerCase();
  if (!isConnectionKind(r.kind)) throw invalid(`${where}.kind "${String(r.kind)}" is not a connection kind`);
  if (!isConnectionState(r.state)) throw invalid(`${where}.state "${String(r.state)}" is not a connection state`);
  requireText(r.createdAt, `${where}.createdAt`);
  requireText(r.updatedAt, `${where}.updatedAt`);
  return {
    tenantId: r.tenantId,
    upn,
    kind: r.kind,
    oid: r.oid ?? null,
    displayName: r.displayName ?? null,
    searchText: `${upn}\n${(r.displayName ?? '').normalize('NFC').toLowerCase()}`,
    state: r.state,
    grantedScopes: JSON.stringify(r.grantedScopes ?? []),
    homeAccountId: r.homeAccountId ?? null,
    lastCheckedAt: r.lastCheckedAt ?? null,
    lastSyncAt: r.lastSyncAt ?? null,
    error: r.error ? JSON.stringify(r.error) : null,
    featureResults: r.featureResults ? JSON.stringify(r.featureResults) : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** A lease's checked arguments (tryLease on every store). */
export function leaseParams(name: string, owner: string, ttlMs: number, now: Date): { name: string; owner: string; now: number; until: number } {
  requireText(name, 'name');
  requireText(owner, 'owner');
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw invalid('ttlMs must be a positive number of milliseconds');
  return { name, owner, now: now.getTime(), until: now.getTime() + ttlMs };
}
