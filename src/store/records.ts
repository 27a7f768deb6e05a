/**
 * What every Store implementation must agree on, whatever holds the rows: input validation and its
 * messages, how records are normalised (lower-cased upn, search text), the paging cursor, the
 * associated data that binds each sealed value to its row, and how optional fields read back.
 * Both stores take them from here, so each rule exists once (the contract suite runs on both).
 * Record → column values lives here; row → record in shared/rows.ts. Column values are plain
 * numbers and strings (flags as 0/1), which both drivers bind as they are.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AppError } from '../domain/errors';
import { isFeature, type Feature } from '../domain/features';
import { isConnectionKind, isConnectionState, type ConnectionKind, type ConnectionState } from '../domain/connection';
import { FEATURES } from '../domain/features';
import type { Keyring } from './crypto';
import type {
  AuditRecord,
  AuthStateRecord,
  CheckItemResult,
  CheckRunRecord,
  ConnectionChangedBy,
  ConnectionQuery,
  ConnectionRecord,
  ConversationRecord,
  NewOutboxItem,
  ReachUserRecord,
  ServiceAccountRecord,
  SessionRecord,
  TenantRecord,
  UserWrite,
} from './types';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;
const MAX_ERROR_TEXT = 2000;

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

/** A connection's fields, each kept in the column of its snake_case name (see columnOf). */
export const CONNECTION_FIELDS = [
  'tenantId',
  'upn',
  'kind',
  'oid',
  'displayName',
  'state',
  'grantedScopes',
  'homeAccountId',
  'lastCheckedAt',
  'lastSyncAt',
  'error',
  'featureResults',
  'createdAt',
  'updatedAt',
] as const satisfies ReadonlyArray<keyof ConnectionRecord>;

/** The column a record field is kept in: its snake_case name (`displayName` → `display_name`). */
export function columnOf(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
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

/** A page of `limit` items read with one row more: the extra row says another page follows. */
export function pageOf<R, T>(rows: R[], limit: number, toItem: (row: R) => T, cursorOf: (item: T) => string): { items: T[]; nextCursor?: string } {
  const items = rows.slice(0, limit).map(toItem);
  const last = items[items.length - 1];
  return rows.length > limit && last !== undefined ? { items, nextCursor: cursorOf(last) } : { items };
}

// ---- tenants, users, domains -----------------------------------------------------------------

/** A new tenant's columns: every feature unless the defaults name some. */
export function newTenantValues(tenantId: string, defaults: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures'>>, now: string) {
  requireText(tenantId, 'tenantId');
  const features = defaults.enabledFeatures ? checkFeatures(defaults.enabledFeatures, 'enabledFeatures') : [...FEATURES];
  return { tenantId, displayName: defaults.displayName ?? null, features: JSON.stringify(features), now };
}

/** A tenant patch as columns: each `set*` flag says whether its field is written. */
export function tenantPatchValues(tenantId: string, patch: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures' | 'deadlineOverrides'>>, now: string) {
  requireText(tenantId, 'tenantId');
  const features = patch.enabledFeatures ? checkFeatures(patch.enabledFeatures, 'enabledFeatures') : undefined;
  return {
    tenantId,
    setName: flag(patch.displayName !== undefined),
    displayName: patch.displayName ?? null,
    setFeatures: flag(features !== undefined),
    features: features ? JSON.stringify(features) : null,
    setOverrides: flag(patch.deadlineOverrides !== undefined),
    overrides: patch.deadlineOverrides ? JSON.stringify(patch.deadlineOverrides) : null,
    now,
  };
}

/** adminProvenAt: a time sets the proof, null clears it, absent keeps what is stored (`setProof` 0). */
export function userValues(record: UserWrite) {
  requireText(record.tenantId, 'tenantId');
  requireText(record.oid, 'oid');
  requireText(record.upn, 'upn');
  if (typeof record.adminProvenAt === 'string') requireText(record.adminProvenAt, 'adminProvenAt');
  return {
    tenantId: record.tenantId,
    oid: record.oid,
    upn: record.upn.toLowerCase(),
    displayName: record.displayName ?? null,
    roles: JSON.stringify(record.roles ?? []),
    lastSeenAt: record.lastSeenAt,
    setProof: flag(record.adminProvenAt !== undefined),
    adminProvenAt: record.adminProvenAt ?? null,
  };
}

/** A domain list as stored: trimmed, lower-cased, each once. */
export function cleanDomains(tenantId: string, domains: string[]): string[] {
  requireText(tenantId, 'tenantId');
  return [...new Set(domains.map((d, i) => requireText(d, `domains[${i}]`).trim().toLowerCase()))];
}

// ---- sealed values ---------------------------------------------------------------------------

/** The service account's columns, its secret sealed to its tenant. */
export function serviceAccountValues(r: ServiceAccountRecord, keyring: Keyring) {
  requireText(r.tenantId, 'tenantId');
  requireText(r.clientSecret, 'clientSecret');
  const features = checkFeatures(r.features, 'features');
  return {
    tenantId: r.tenantId,
    tenant: r.tenant,
    clientId: r.clientId,
    box: keyring.encrypt(r.clientSecret, saAad(r.tenantId)),
    kid: keyring.currentKeyId,
    hint: r.secretHint,
    expires: r.secretExpiresAt ?? null,
    testAccount: r.testAccount,
    outOfScope: r.outOfScopeAccount ?? null,
    features: JSON.stringify(features),
    updatedAt: r.updatedAt,
    updatedBy: r.updatedBy,
  };
}

/** A token cache partition's columns, sealed to its tenant and partition. */
export function tokenCacheValues(tenantId: string, partitionKey: string, serialized: string, keyring: Keyring, now: string) {
  requireText(tenantId, 'tenantId');
  requireText(partitionKey, 'partitionKey');
  return { tenantId, partitionKey, box: keyring.encrypt(serialized, tokenCacheAad(tenantId, partitionKey)), kid: keyring.currentKeyId, now };
}

/**
 * Auth states and sessions are keyed by the hash of the value the caller holds, everything else
 * sealed to that hash: a copy of the database yields no live values.
 */
function sealedByHash(key: string, rest: object, aad: (hash: string) => string, keyring: Keyring) {
  const hash = sha256(key);
  return { hash, box: keyring.encrypt(JSON.stringify(rest), aad(hash)), kid: keyring.currentKeyId };
}

export function authStateValues(record: AuthStateRecord, keyring: Keyring) {
  requireText(record.state, 'state');
  requireText(record.tenantId, 'tenantId');
  const { state, ...rest } = record;
  return { ...sealedByHash(state, rest, authStateAad, keyring), tenantId: record.tenantId, expiresMs: toMs(record.expiresAt, 'expiresAt') };
}

export function openAuthState(state: string, box: string, keyring: Keyring): AuthStateRecord {
  return { state, ...(JSON.parse(keyring.decrypt(box, authStateAad(sha256(state)))) as Omit<AuthStateRecord, 'state'>) };
}

export function sessionValues(record: SessionRecord, keyring: Keyring) {
  requireText(record.id, 'id');
  requireText(record.tenantId, 'tenantId');
  const { id, ...rest } = record;
  return { ...sealedByHash(id, rest, sessionAad, keyring), tenantId: record.tenantId, oid: record.oid, expiresMs: toMs(record.expiresAt, 'expiresAt') };
}

export function openSession(id: string, box: string, keyring: Keyring): SessionRecord {
  return { id, ...(JSON.parse(keyring.decrypt(box, sessionAad(sha256(id)))) as Omit<SessionRecord, 'id'>) };
}

/** Auth states and sessions are looked up by a string the caller holds; an empty one finds nothing. */
export function isLookupKey(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

// ---- connections and their checks ------------------------------------------------------------

/** A page query's checked filters: limit, search term and the position after the cursor. */
export function connectionQueryValues(query: ConnectionQuery) {
  if (query.state !== undefined && !isConnectionState(query.state)) throw invalid(`state "${String(query.state)}" is not a connection state`);
  optionalKind(query.kind);
  return { limit: clampLimit(query.limit, DEFAULT_PAGE), search: searchTerm(query.search), after: query.cursor ? decodeCursor(query.cursor) : undefined };
}

/** A run as started: its items each once (upn lower-cased), counted into `total`. */
export function startedRun(run: CheckRunRecord, items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>>) {
  requireText(run.id, 'run.id');
  requireText(run.tenantId, 'run.tenantId');
  const startedMs = toMs(run.startedAt, 'run.startedAt');
  const distinct = [...new Map(items.map((i) => [`${i.upn.toLowerCase()}\n${i.kind}`, { upn: i.upn.toLowerCase(), kind: i.kind }])).values()];
  const started: CheckRunRecord = { ...run, status: 'running', total: distinct.length, checked: 0 };
  delete started.finishedAt;
  return { started, startedMs, items: distinct };
}

/** A checked item's values: the connection to write (when given), the state change and when it was seen. */
export function checkItemValues(result: CheckItemResult) {
  const c = result.connection;
  requireText(result.tenantId, 'tenantId');
  const upn = requireText(result.upn, 'upn').trim().toLowerCase();
  if (!isConnectionKind(result.kind)) throw invalid(`kind "${String(result.kind)}" is not a connection kind`);
  if (!isConnectionState(result.from)) throw invalid(`from "${String(result.from)}" is not a connection state`);
  const connection = c ? connectionParams(c, 'connection') : undefined;
  if (c && (c.tenantId !== result.tenantId || connection!.upn !== upn || c.kind !== result.kind)) throw invalid('connection is not the one of the item');
  return {
    tenantId: result.tenantId,
    runId: result.runId,
    upn,
    kind: result.kind,
    from: result.from,
    to: c?.state ?? result.from,
    code: c?.error?.code ?? null,
    at: c?.lastCheckedAt ?? c?.updatedAt ?? nowIso(),
    connection,
    unchangedSince: result.unchangedSince === undefined ? null : requireText(result.unchangedSince, 'unchangedSince'),
  };
}

/** A connection checked outside a run (the user's own Test): its values, and its history entry's. */
export function connectionCheckValues(connection: ConnectionRecord, from: ConnectionState, unchangedSince?: string) {
  if (!isConnectionState(from)) throw invalid(`from "${String(from)}" is not a connection state`);
  const params = connectionParams(connection, 'connection');
  return {
    tenantId: connection.tenantId,
    runId: null,
    upn: params.upn,
    kind: connection.kind,
    from,
    to: connection.state,
    code: connection.error?.code ?? null,
    at: connection.lastCheckedAt ?? connection.updatedAt,
    connection: params,
    unchangedSince: unchangedSince === undefined ? null : requireText(unchangedSince, 'unchangedSince'),
  };
}

/** A connection removed, when and by whom (its user or the product): the key of the row to delete and the history entry's fields. */
export function removalValues(tenantId: string, upn: string, kind: string, at: string, by: string) {
  if (!isConnectionKind(kind)) throw invalid(`kind "${String(kind)}" is not a connection kind`);
  toMs(at, 'at');
  if (by !== 'user' && by !== 'system') throw invalid(`by "${String(by)}" is not who changes a connection (user or system)`);
  return { tenantId: requireText(tenantId, 'tenantId'), upn: requireText(upn, 'upn').toLowerCase(), kind, at, changedBy: by as ConnectionChangedBy };
}

/** A read's optional `kind` filter: none, or a connection kind. */
export function optionalKind(kind: unknown): ConnectionKind | undefined {
  if (kind === undefined) return undefined;
  if (!isConnectionKind(kind)) throw invalid(`kind "${String(kind)}" is not a connection kind`);
  return kind;
}

/** Items finished together are written in one order by every writer, so two writers cannot deadlock. */
export function inLockOrder<T extends { upn: string; kind: string }>(values: readonly T[]): number[] {
  const key = (v: T) => `${v.upn}\u0000${v.kind}`;
  return values.map((_, i) => i).sort((a, b) => (key(values[a]!) < key(values[b]!) ? -1 : key(values[a]!) > key(values[b]!) ? 1 : 0));
}

/** How many items each run had marked done in one write: its `checked` count moves once per write, not once per item. */
export function checkedPerRun(
  values: ReadonlyArray<{ tenantId: string; runId: string }>,
  done: readonly boolean[],
): Array<{ tenantId: string; runId: string; checked: number }> {
  const runs = new Map<string, { tenantId: string; runId: string; checked: number }>();
  values.forEach((v, i) => {
    if (!done[i]) return;
    const key = `${v.tenantId}\u0000${v.runId}`;
    const run = runs.get(key) ?? runs.set(key, { tenantId: v.tenantId, runId: v.runId, checked: 0 }).get(key)!;
    run.checked++;
  });
  return [...runs.values()];
}

export function checkFinishStatus(status: string, finishedAt: string): void {
  if (status !== 'done' && status !== 'failed') throw invalid(`status "${String(status)}" must be done or failed`);
  requireText(finishedAt, 'finishedAt');
}

// ---- conversations, outbox, reach, audit -----------------------------------------------------

export function conversationValues(r: ConversationRecord) {
  requireText(r.tenantId, 'tenantId');
  requireText(r.conversationId, 'conversationId');
  return {
    tenantId: r.tenantId,
    conversationId: r.conversationId,
    scope: r.scope,
    userOid: r.userOid ?? null,
    userUpn: r.userUpn?.toLowerCase() ?? null,
    subscribed: flag(!!r.subscribed),
    reference: JSON.stringify(r.reference ?? {}),
    updatedAt: r.updatedAt,
  };
}

/** New outbox items' columns, all checked before any is written; due from `now`, in the given order. */
export function outboxItemValues(items: NewOutboxItem[], now: Date) {
  return items.map((it, i) => {
    requireText(it.tenantId, `items[${i}].tenantId`);
    requireText(it.idempotencyKey, `items[${i}].idempotencyKey`);
    requireText(it.conversationId, `items[${i}].conversationId`);
    return {
      id: randomUUID(),
      tenantId: it.tenantId,
      kind: it.kind,
      idempotencyKey: it.idempotencyKey,
      conversationId: it.conversationId,
      payload: JSON.stringify(it.payload ?? {}),
      nextAttemptMs: now.getTime(),
      createdAt: now.toISOString(),
    };
  });
}

/** A claim's checked arguments: items due at `now`, leased to `owner` until `now + leaseMs`. */
export function claimValues(now: Date, limit: number, owner: string, leaseMs: number) {
  requireText(owner, 'owner');
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw invalid('leaseMs must be a positive number of milliseconds');
  return { now: now.getTime(), until: now.getTime() + leaseMs, owner, limit: clampLimit(limit, DEFAULT_PAGE) };
}

/**
 * How markSent / markRetry / markFailed move an item: the columns each writes (`value` is the sent
 * time or the next attempt's ms, `error` the clipped reason) and whose lease it must hold (none:
 * whoever holds it). Every mark counts an attempt and ends the lease.
 */
export function outboxMarkValues(id: string, owner: string | undefined, value: string | number | null, error: string | null) {
  return { id, owner: owner ?? null, value, error: error === null ? null : clip(error) };
}

export function reachUserValues(r: ReachUserRecord) {
  requireText(r.tenantId, 'tenantId');
  requireText(r.upn, 'upn');
  const record = { ...r, upn: r.upn.toLowerCase() };
  return { tenantId: r.tenantId, upn: record.upn, oid: r.oid ?? null, record: JSON.stringify(record), updatedAt: r.updatedAt };
}

/** An audit entry's columns; stamped with `now` unless it says when. */
export function auditValues(entry: Omit<AuditRecord, 'id' | 'at'> & { at?: string }, now: string) {
  requireText(entry.tenantId, 'tenantId');
  requireText(entry.actor, 'actor');
  requireText(entry.action, 'action');
  const at = entry.at ?? now;
  return {
    id: randomUUID(),
    tenantId: entry.tenantId,
    at,
    atMs: toMs(at, 'at'),
    actor: entry.actor,
    action: entry.action,
    target: entry.target ?? null,
    details: entry.details === undefined ? null : JSON.stringify(entry.details),
  };
}

function flag(on: boolean): 0 | 1 {
  return on ? 1 : 0;
}
