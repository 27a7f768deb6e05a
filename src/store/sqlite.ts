/**
 * The embedded Store: SQLite through better-sqlite3 (WAL, one connection per process).
 * better-sqlite3 is synchronous, so each method runs to completion before the next one starts;
 * multi-statement writes still use transactions so they stay atomic against other processes.
 * Secret fields are sealed with the Keyring before they reach SQLite (see migrations.ts).
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, statSync, accessSync, constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../domain/errors';
import { FEATURES, type Feature } from '../domain/features';
import { isConnectionKind, isConnectionState, type ConnectionKind, type ConnectionState } from '../domain/connection';
import type { Keyring } from './crypto';
import { StoreOpenError } from './errors';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations';
import { leaseParams } from './records';
import type {
  AuditRecord,
  AuthStateRecord,
  CampaignRecord,
  ReachUserPage,
  ReachUserRecord,
  CheckItemRecord,
  CheckItemResult,
  CheckRunRecord,
  ConnectionHistoryRecord,
  ConnectionPage,
  ConnectionQuery,
  ConnectionRecord,
  ConversationRecord,
  ConversationScope,
  EncryptedValueCounts,
  NewOutboxItem,
  OutboxRecord,
  OutboxStatus,
  ServiceAccountRecord,
  ServiceAccountTestRecord,
  SessionRecord,
  Store,
  TenantRecord,
  UserRecord,
  UserWrite,
} from './types';
import {
  DEFAULT_PAGE,
  authStateAad,
  checkFeatures,
  clampLimit,
  clip,
  compact,
  connectionParams,
  decodeCursor,
  encodeCursor,
  invalid,
  nowIso,
  requireText,
  saAad,
  sessionAad,
  sha256,
  toMs,
  tokenCacheAad,
} from './records';

export const MEMORY = ':memory:';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Files up to this size are checked in memory before being opened for writing. */
const PROBE_MAX_BYTES = 256 * 1024 * 1024;

export interface SqliteStoreOptions {
  /** The clock that stamps records (createdAt, updatedAt, audit times); the system clock by default. */
  now?: () => Date;
  /** How long a write waits for another process's lock (ms). */
  busyTimeoutMs?: number;
}

type Db = Database.Database;
type Stmt = Database.Statement;

export class SqliteStore implements Store {
  readonly file: string;
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #now: () => Date;
  readonly #q: ReturnType<typeof prepareAll>;
  #closed = false;

  private constructor(db: Db, file: string, keyring: Keyring, now: () => Date) {
    this.#db = db;
    this.#now = now;
    this.file = file;
    this.#keyring = keyring;
    this.#q = prepareAll(db);
  }

  /**
   * Opens (creating if needed) and migrates the database at `file` (absolute path or `:memory:`).
   * Anything that stops it throws StoreOpenError; a corrupt, foreign, newer or unwritable file is
   * left exactly as it was.
   */
  static open(file: string, keyring: Keyring, options: SqliteStoreOptions = {}): SqliteStore {
    const timeout = options.busyTimeoutMs ?? 5000;
    if (file !== MEMORY) preflight(file);
    let db: Db | undefined;
    try {
      db = new Database(file, { timeout });
      db.pragma('foreign_keys = ON');
      if (file !== MEMORY) inspect(db, file);
      if (file !== MEMORY) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new StoreOpenError('failed', file, `could not switch to WAL journal mode (got ${String(mode)})`);
        db.pragma('synchronous = NORMAL');
      }
      migrate(db, file);
      return new SqliteStore(db, file, keyring, options.now ?? (() => new Date()));
    } catch (err) {
      try {
        db?.close();
      } catch {
        /* already failing; the original error matters */
      }
      throw toOpenError(err, file);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async ping(): Promise<void> {
    this.#q.ping.get();
  }

  /**
   * total_changes() counts every row this connection wrote (triggers and cascades included);
   * data_version moves when another connection commits. Two tiny statements, no table read.
   */
  changeStamp(): string {
    return `${this.#q.totalChanges.get() as number}/${this.#q.dataVersion.get() as number}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Every encrypted value as a rotation target: how to list, rewrite and count the stale ones. */
  #sealed(): Array<{
    kind: keyof EncryptedValueCounts;
    list: Stmt;
    set: Stmt;
    count: Stmt;
    aad: (row: SealedRow) => string;
    key: (row: SealedRow) => unknown[];
  }> {
    const q = this.#q;
    return [
      { kind: 'serviceAccountSecrets', list: q.rotSaList, set: q.rotSaSet, count: q.rotSaCount, aad: (r) => saAad(r.tenant_id!), key: (r) => [r.tenant_id] },
      {
        kind: 'tokenCaches',
        list: q.rotTcList,
        set: q.rotTcSet,
        count: q.rotTcCount,
        aad: (r) => tokenCacheAad(r.tenant_id!, r.partition_key!),
        key: (r) => [r.tenant_id, r.partition_key],
      },
      { kind: 'authStates', list: q.rotAsList, set: q.rotAsSet, count: q.rotAsCount, aad: (r) => authStateAad(r.state_hash!), key: (r) => [r.state_hash] },
      { kind: 'sessions', list: q.rotSeList, set: q.rotSeSet, count: q.rotSeCount, aad: (r) => sessionAad(r.id_hash!), key: (r) => [r.id_hash] },
    ];
  }

  async reencryptAll(options: { batchSize?: number } = {}): Promise<EncryptedValueCounts> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 200));
    const kid = this.#keyring.currentKeyId;
    const counts: EncryptedValueCounts = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
    for (const target of this.#sealed()) {
      // One short transaction per batch: other writers wait at most one batch, and an interruption
      // keeps every batch already committed. Rewritten rows leave the `key_id <> current` listing.
      for (;;) {
        const batch = this.#db
          .transaction(() => {
            const rows = target.list.all(kid, batchSize) as SealedRow[];
            let rewritten = 0;
            for (const row of rows) {
              const aad = target.aad(row);
              const box = this.#keyring.encrypt(this.#keyring.decrypt(row.box, aad), aad);
              // Only if the value is still the one read: a concurrent write already used the current key.
              rewritten += target.set.run(box, kid, ...target.key(row), row.box).changes;
            }
            return { listed: rows.length, rewritten };
          })
          .immediate();
        counts[target.kind] += batch.rewritten;
        if (batch.listed < batchSize) break;
      }
    }
    return counts;
  }

  async countRetiredKeyValues(): Promise<EncryptedValueCounts> {
    const kid = this.#keyring.currentKeyId;
    const counts: EncryptedValueCounts = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
    for (const target of this.#sealed()) counts[target.kind] = target.count.pluck().get(kid) as number;
    return counts;
  }

  async rekeyServiceAccountTests(tenantId: string, fromHash: string, toHash: string): Promise<number> {
    return this.#db
      .transaction(() => {
        let n = 0;
        for (const row of this.#q.saTestRows.all(tenantId) as Array<{ seq: number; record: string }>) {
          const record = JSON.parse(row.record) as ServiceAccountTestRecord;
          if (record.configHash !== fromHash) continue;
          n += this.#q.saTestSet.run(JSON.stringify({ ...record, configHash: toHash }), row.seq).changes;
        }
        return n;
      })
      .immediate();
  }

  /** reencryptAll as one total (kept for callers that only need the number). */
  async rotateKeys(): Promise<number> {
    const counts = await this.reencryptAll();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  // ---- tenants -----------------------------------------------------------------------------

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const row = this.#q.tenantGet.get(tenantId) as TenantRow | undefined;
    return row && tenantFromRow(row);
  }

  async ensureTenant(tenantId: string, defaults: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures'>> = {}): Promise<TenantRecord> {
    requireText(tenantId, 'tenantId');
    const features = defaults.enabledFeatures ? checkFeatures(defaults.enabledFeatures, 'enabledFeatures') : [...FEATURES];
    const now = this.#now().toISOString();
    this.#q.tenantInsertIgnore.run(tenantId, defaults.displayName ?? null, JSON.stringify(features), now, now);
    return tenantFromRow(this.#q.tenantGet.get(tenantId) as TenantRow);
  }

  async updateTenant(tenantId: string, patch: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures' | 'deadlineOverrides'>>): Promise<TenantRecord> {
    requireText(tenantId, 'tenantId');
    const features = patch.enabledFeatures ? checkFeatures(patch.enabledFeatures, 'enabledFeatures') : undefined;
    const now = this.#now().toISOString();
    this.#db
      .transaction(() => {
        this.#q.tenantInsertIgnore.run(tenantId, null, JSON.stringify([...FEATURES]), now, now);
        this.#q.tenantUpdate.run({
          tenantId,
          setName: patch.displayName !== undefined ? 1 : 0,
          displayName: patch.displayName ?? null,
          setFeatures: features ? 1 : 0,
          features: features ? JSON.stringify(features) : null,
          setOverrides: patch.deadlineOverrides !== undefined ? 1 : 0,
          overrides: patch.deadlineOverrides ? JSON.stringify(patch.deadlineOverrides) : null,
          now,
        });
      })
      .immediate();
    return tenantFromRow(this.#q.tenantGet.get(tenantId) as TenantRow);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (this.#q.tenantList.all() as TenantRow[]).map(tenantFromRow);
  }

  // ---- users -------------------------------------------------------------------------------

  async putUser(record: UserWrite): Promise<void> {
    requireText(record.tenantId, 'tenantId');
    requireText(record.oid, 'oid');
    requireText(record.upn, 'upn');
    if (typeof record.adminProvenAt === 'string') requireText(record.adminProvenAt, 'adminProvenAt');
    this.#q.userUpsert.run({
      tenantId: record.tenantId,
      oid: record.oid,
      upn: record.upn.toLowerCase(),
      displayName: record.displayName ?? null,
      roles: JSON.stringify(record.roles ?? []),
      lastSeenAt: record.lastSeenAt,
      setProof: record.adminProvenAt === undefined ? 0 : 1,
      adminProvenAt: record.adminProvenAt ?? null,
    });
  }

  async getUser(tenantId: string, oid: string): Promise<UserRecord | undefined> {
    const row = this.#q.userGet.get(tenantId, oid) as UserRow | undefined;
    return row && userFromRow(row);
  }

  async listUsersWithRole(tenantId: string, role: string): Promise<UserRecord[]> {
    return (this.#q.usersWithRole.all(tenantId, role) as UserRow[]).map(userFromRow);
  }

  // ---- domains -----------------------------------------------------------------------------

  async getDomains(tenantId: string): Promise<string[]> {
    return this.#q.domainsGet.pluck().all(tenantId) as string[];
  }

  async setDomains(tenantId: string, domains: string[]): Promise<void> {
    requireText(tenantId, 'tenantId');
    const clean = [...new Set(domains.map((d, i) => requireText(d, `domains[${i}]`).trim().toLowerCase()))];
    this.#db
      .transaction(() => {
        this.#q.domainsClear.run(tenantId);
        for (const d of clean) this.#q.domainInsert.run(tenantId, d);
      })
      .immediate();
  }

  // ---- service account ---------------------------------------------------------------------

  async getServiceAccount(tenantId: string): Promise<ServiceAccountRecord | undefined> {
    const row = this.#q.saGet.get(tenantId) as ServiceAccountRow | undefined;
    if (!row) return undefined;
    return compact({
      tenantId: row.tenant_id,
      tenant: row.tenant,
      clientId: row.client_id,
      clientSecret: this.#keyring.decrypt(row.secret_box, saAad(row.tenant_id)),
      secretHint: row.secret_hint,
      secretExpiresAt: row.secret_expires_at,
      testAccount: row.test_account,
      outOfScopeAccount: row.out_of_scope_account,
      features: JSON.parse(row.features) as Feature[],
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
    }) as ServiceAccountRecord;
  }

  async putServiceAccount(r: ServiceAccountRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    requireText(r.clientSecret, 'clientSecret');
    const features = checkFeatures(r.features, 'features');
    this.#q.saUpsert.run({
      tenantId: r.tenantId,
      tenant: r.tenant,
      clientId: r.clientId,
      box: this.#keyring.encrypt(r.clientSecret, saAad(r.tenantId)),
      kid: this.#keyring.currentKeyId,
      hint: r.secretHint,
      expires: r.secretExpiresAt ?? null,
      testAccount: r.testAccount,
      outOfScope: r.outOfScopeAccount ?? null,
      features: JSON.stringify(features),
      updatedAt: r.updatedAt,
      updatedBy: r.updatedBy,
    });
  }

  async deleteServiceAccount(tenantId: string): Promise<boolean> {
    return this.#q.saDelete.run(tenantId).changes > 0;
  }

  async putServiceAccountTest(record: ServiceAccountTestRecord): Promise<void> {
    requireText(record.tenantId, 'tenantId');
    this.#db
      .transaction(() => {
        this.#q.saTestInsert.run(record.tenantId, JSON.stringify(record));
        this.#q.saTestTrim.run(record.tenantId, record.tenantId);
      })
      .immediate();
  }

  async getServiceAccountTests(tenantId: string): Promise<ServiceAccountTestRecord[]> {
    return (this.#q.saTestList.pluck().all(tenantId) as string[]).map((s) => JSON.parse(s) as ServiceAccountTestRecord);
  }

  // ---- connections -------------------------------------------------------------------------

  async getConnections(tenantId: string, upn: string): Promise<ConnectionRecord[]> {
    return (this.#q.connGet.all(tenantId, upn.toLowerCase()) as ConnectionRow[]).map(connectionFromRow);
  }

  async putConnection(record: ConnectionRecord): Promise<void> {
    this.#q.connUpsert.run(connectionParams(record, 'record'));
  }

  async deleteConnection(tenantId: string, upn: string, kind: ConnectionKind): Promise<boolean> {
    return this.#q.connDelete.run(tenantId, upn.toLowerCase(), kind).changes > 0;
  }

  async importConnections(records: ConnectionRecord[]): Promise<void> {
    // Each record is checked inside the transaction: a bad one rolls back those written before it.
    this.#db
      .transaction(() => {
        records.forEach((r, i) => this.#q.connUpsert.run(connectionParams(r, `connections[${i}]`)));
      })
      .immediate();
  }

  async queryConnections(tenantId: string, query: ConnectionQuery): Promise<ConnectionPage> {
    if (query.state !== undefined && !isConnectionState(query.state)) throw invalid(`state "${String(query.state)}" is not a connection state`);
    if (query.kind !== undefined && !isConnectionKind(query.kind)) throw invalid(`kind "${String(query.kind)}" is not a connection kind`);
    const limit = clampLimit(query.limit, DEFAULT_PAGE);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const search = query.search?.trim().normalize('NFC').toLowerCase() || null;
    const params: Record<string, unknown> = { tenantId, limit: limit + 1 };
    if (query.state !== undefined) params.state = query.state;
    if (query.kind !== undefined) params.kind = query.kind;
    if (search !== null) params.search = search;
    if (after) Object.assign(params, { afterUpn: after.u, afterKind: after.k });
    const rows = this.#connQuery(params).all(params) as ConnectionRow[];
    const items = rows.slice(0, limit).map(connectionFromRow);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.upn, last.kind) } : { items };
  }

  /**
   * The page statement for the filters present, prepared once per combination: with only its own
   * conditions SQLite picks the state or kind index (an `@x IS NULL OR …` form would scan the key).
   */
  readonly #connQueries = new Map<string, Stmt>();
  #connQuery(params: Record<string, unknown>): Stmt {
    const shape = ['state', 'kind', 'search', 'afterUpn'].filter((k) => k in params).join(',');
    let stmt = this.#connQueries.get(shape);
    if (!stmt) {
      stmt = this.#db.prepare(connectionPageSql(params));
      this.#connQueries.set(shape, stmt);
    }
    return stmt;
  }

  async countConnections(tenantId: string): Promise<Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>> {
    return this.#q.connCount.all(tenantId) as Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>;
  }

  // ---- token cache partitions --------------------------------------------------------------

  async getTokenCache(tenantId: string, partitionKey: string): Promise<string | undefined> {
    const box = this.#q.tcGet.pluck().get(tenantId, partitionKey) as string | undefined;
    return box === undefined ? undefined : this.#keyring.decrypt(box, tokenCacheAad(tenantId, partitionKey));
  }

  async putTokenCache(tenantId: string, partitionKey: string, serialized: string): Promise<void> {
    requireText(tenantId, 'tenantId');
    requireText(partitionKey, 'partitionKey');
    const box = this.#keyring.encrypt(serialized, tokenCacheAad(tenantId, partitionKey));
    this.#q.tcUpsert.run(tenantId, partitionKey, box, this.#keyring.currentKeyId, this.#now().toISOString());
  }

  async deleteTokenCache(tenantId: string, partitionKey: string): Promise<boolean> {
    return this.#q.tcDelete.run(tenantId, partitionKey).changes > 0;
  }

  // ---- auth states and sessions ------------------------------------------------------------

  async putAuthState(record: AuthStateRecord): Promise<void> {
    requireText(record.state, 'state');
    requireText(record.tenantId, 'tenantId');
    const hash = sha256(record.state);
    const { state: _omit, ...rest } = record;
    const box = this.#keyring.encrypt(JSON.stringify(rest), authStateAad(hash));
    this.#q.asInsert.run(hash, record.tenantId, box, this.#keyring.currentKeyId, toMs(record.expiresAt, 'expiresAt'));
  }

  async takeAuthState(state: string, now: Date): Promise<AuthStateRecord | undefined> {
    if (typeof state !== 'string' || state === '') return undefined;
    const hash = sha256(state);
    // DELETE … RETURNING: of two concurrent callers, only one gets the row.
    const row = this.#q.asTake.get(hash) as { box: string; expires_ms: number } | undefined;
    if (!row || row.expires_ms <= now.getTime()) return undefined;
    const rest = JSON.parse(this.#keyring.decrypt(row.box, authStateAad(hash))) as Omit<AuthStateRecord, 'state'>;
    return { state, ...rest };
  }

  async putSession(record: SessionRecord): Promise<void> {
    requireText(record.id, 'id');
    requireText(record.tenantId, 'tenantId');
    const hash = sha256(record.id);
    const { id: _omit, ...rest } = record;
    const box = this.#keyring.encrypt(JSON.stringify(rest), sessionAad(hash));
    this.#q.seUpsert.run(hash, record.tenantId, record.oid, box, this.#keyring.currentKeyId, toMs(record.expiresAt, 'expiresAt'));
  }

  async getSession(id: string, now: Date): Promise<SessionRecord | undefined> {
    if (typeof id !== 'string' || id === '') return undefined;
    const hash = sha256(id);
    const box = this.#q.seGet.pluck().get(hash, now.getTime()) as string | undefined;
    if (box === undefined) return undefined;
    return { id, ...(JSON.parse(this.#keyring.decrypt(box, sessionAad(hash))) as Omit<SessionRecord, 'id'>) };
  }

  async deleteSession(id: string): Promise<void> {
    this.#q.seDelete.run(sha256(id));
  }

  async purgeExpired(now: Date): Promise<number> {
    const ms = now.getTime();
    return this.#db.transaction(() => this.#q.asPurge.run(ms).changes + this.#q.sePurge.run(ms).changes).immediate();
  }

  // ---- conversations -----------------------------------------------------------------------

  async putConversation(r: ConversationRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    requireText(r.conversationId, 'conversationId');
    this.#q.convUpsert.run({
      tenantId: r.tenantId,
      conversationId: r.conversationId,
      scope: r.scope,
      userOid: r.userOid ?? null,
      userUpn: r.userUpn?.toLowerCase() ?? null,
      subscribed: r.subscribed ? 1 : 0,
      reference: JSON.stringify(r.reference ?? {}),
      updatedAt: r.updatedAt,
    });
  }

  async getConversation(tenantId: string, conversationId: string): Promise<ConversationRecord | undefined> {
    const row = this.#q.convGet.get(tenantId, conversationId) as ConversationRow | undefined;
    return row && conversationFromRow(row);
  }

  async deleteConversation(tenantId: string, conversationId: string): Promise<boolean> {
    return this.#q.convDelete.run(tenantId, conversationId).changes > 0;
  }

  async listConversations(tenantId: string, filter: { subscribed?: boolean; scope?: ConversationScope } = {}): Promise<ConversationRecord[]> {
    const rows = this.#q.convList.all({
      tenantId,
      subscribed: filter.subscribed === undefined ? null : filter.subscribed ? 1 : 0,
      scope: filter.scope ?? null,
    }) as ConversationRow[];
    return rows.map(conversationFromRow);
  }

  async findPersonalConversation(tenantId: string, userUpnOrOid: string): Promise<ConversationRecord | undefined> {
    const row = this.#q.convPersonal.get(tenantId, userUpnOrOid, userUpnOrOid.toLowerCase()) as ConversationRow | undefined;
    return row && conversationFromRow(row);
  }

  // ---- outbox ------------------------------------------------------------------------------

  async enqueue(items: NewOutboxItem[]): Promise<number> {
    const now = this.#now();
    const createdAt = now.toISOString();
    return this.#db
      .transaction(() => {
        let added = 0;
        items.forEach((it, i) => {
          requireText(it.tenantId, `items[${i}].tenantId`);
          requireText(it.idempotencyKey, `items[${i}].idempotencyKey`);
          requireText(it.conversationId, `items[${i}].conversationId`);
          added += this.#q.outboxInsert.run(
            randomUUID(),
            it.tenantId,
            it.kind,
            it.idempotencyKey,
            it.conversationId,
            JSON.stringify(it.payload ?? {}),
            now.getTime(),
            createdAt,
          ).changes;
        });
        return added;
      })
      .immediate();
  }

  async dueOutbox(now: Date, limit: number): Promise<OutboxRecord[]> {
    return (this.#q.outboxDue.all(now.getTime(), clampLimit(limit, DEFAULT_PAGE)) as OutboxRow[]).map(outboxFromRow);
  }

  async claimOutbox(now: Date, limit: number, owner: string, leaseMs: number): Promise<OutboxRecord[]> {
    requireText(owner, 'owner');
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw invalid('leaseMs must be a positive number of milliseconds');
    const params = { now: now.getTime(), until: now.getTime() + leaseMs, owner, limit: clampLimit(limit, DEFAULT_PAGE) };
    // One UPDATE in a write transaction: another process's claim waits for it, then sees the lease.
    const rows = this.#db.transaction(() => this.#q.outboxClaim.all(params) as Array<OutboxRow & { seq: number }>).immediate();
    return rows.sort((a, b) => a.seq - b.seq).map(outboxFromRow);
  }

  async markSent(id: string, at: Date): Promise<void> {
    this.#outboxTransition(id, () => this.#q.outboxSent.run(at.toISOString(), id));
  }

  async markRetry(id: string, nextAttemptAt: Date, error: string): Promise<void> {
    this.#outboxTransition(id, () => this.#q.outboxRetry.run(nextAttemptAt.getTime(), clip(error), id));
  }

  async markFailed(id: string, error: string): Promise<void> {
    this.#outboxTransition(id, () => this.#q.outboxFailed.run(clip(error), id));
  }

  /** Only pending items move; a sent or failed item stays as it is (a late duplicate call is harmless). */
  #outboxTransition(id: string, update: () => Database.RunResult): void {
    this.#db
      .transaction(() => {
        if (update().changes === 0 && this.#q.outboxExists.get(id) === undefined) {
          throw new AppError('NOT_FOUND', { message: `Outbox item ${id} does not exist.` });
        }
      })
      .immediate();
  }

  async listOutbox(tenantId: string, status?: OutboxStatus): Promise<OutboxRecord[]> {
    return (this.#q.outboxList.all({ tenantId, status: status ?? null }) as OutboxRow[]).map(outboxFromRow);
  }

  // ---- reach ---------------------------------------------------------------------------------

  async getCampaign(tenantId: string): Promise<CampaignRecord | undefined> {
    const row = this.#q.campaignGet.get(tenantId) as { record: string } | undefined;
    return row && (JSON.parse(row.record) as CampaignRecord);
  }

  async putCampaign(r: CampaignRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    this.#q.campaignUpsert.run(r.tenantId, r.status, JSON.stringify(r), r.updatedAt);
  }

  async listRunningCampaigns(): Promise<CampaignRecord[]> {
    return (this.#q.campaignRunning.all() as Array<{ record: string }>).map((row) => JSON.parse(row.record) as CampaignRecord);
  }

  async getReachUser(tenantId: string, upn: string): Promise<ReachUserRecord | undefined> {
    const row = this.#q.reachGet.get(tenantId, upn.toLowerCase()) as { record: string } | undefined;
    return row && (JSON.parse(row.record) as ReachUserRecord);
  }

  async putReachUser(r: ReachUserRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    requireText(r.upn, 'upn');
    const record = { ...r, upn: r.upn.toLowerCase() };
    this.#q.reachUpsert.run(r.tenantId, record.upn, r.oid ?? null, JSON.stringify(record), r.updatedAt);
  }

  async listReachUsers(tenantId: string, options: { cursor?: string; limit?: number } = {}): Promise<ReachUserPage> {
    const limit = clampLimit(options.limit, DEFAULT_PAGE);
    const rows = this.#q.reachList.all(tenantId, options.cursor ?? '', limit + 1) as Array<{ upn: string; record: string }>;
    const items = rows.slice(0, limit).map((row) => JSON.parse(row.record) as ReachUserRecord);
    return rows.length > limit ? { items, nextCursor: rows[limit - 1].upn } : { items };
  }

  // ---- health-check runs and connection history --------------------------------------------

  async startCheckRun(
    run: CheckRunRecord,
    items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>>,
  ): Promise<{ started: true; run: CheckRunRecord } | { started: false; run: CheckRunRecord }> {
    requireText(run.id, 'run.id');
    requireText(run.tenantId, 'run.tenantId');
    return this.#db
      .transaction(() => {
        const running = this.#q.runRunning.get(run.tenantId) as CheckRunRow | undefined;
        if (running) return { started: false as const, run: checkRunFromRow(running) };
        const distinct = new Map(items.map((i) => [`${i.upn.toLowerCase()}\n${i.kind}`, { upn: i.upn.toLowerCase(), kind: i.kind }]));
        const seq = (this.#q.runNextSeq.pluck().get(run.tenantId) as number) ?? 1;
        const started: CheckRunRecord = { ...run, status: 'running', total: distinct.size, checked: 0 };
        delete started.finishedAt;
        this.#q.runInsert.run(run.id, run.tenantId, run.startedBy, run.startedAt, toMs(run.startedAt, 'run.startedAt'), distinct.size, seq);
        for (const i of distinct.values()) this.#q.itemInsert.run(run.tenantId, run.id, i.upn, i.kind);
        return { started: true as const, run: started };
      })
      .immediate();
  }

  async getCheckRun(tenantId: string, id: string): Promise<CheckRunRecord | undefined> {
    const row = this.#q.runGet.get(tenantId, id) as CheckRunRow | undefined;
    return row && checkRunFromRow(row);
  }

  async latestCheckRun(tenantId: string): Promise<CheckRunRecord | undefined> {
    const row = this.#q.runLatest.get(tenantId) as CheckRunRow | undefined;
    return row && checkRunFromRow(row);
  }

  async listRunningCheckRuns(): Promise<CheckRunRecord[]> {
    return (this.#q.runAllRunning.all() as CheckRunRow[]).map(checkRunFromRow);
  }

  async pendingCheckItems(tenantId: string, runId: string, limit: number): Promise<CheckItemRecord[]> {
    return (this.#q.itemPending.all(tenantId, runId, clampLimit(limit, DEFAULT_PAGE)) as CheckItemRow[]).map(checkItemFromRow);
  }

  async completeCheckItem(result: CheckItemResult): Promise<boolean> {
    return (await this.completeCheckItems([result]))[0];
  }

  async completeCheckItems(results: CheckItemResult[]): Promise<boolean[]> {
    // Every result is checked before anything is written.
    const checked = results.map((result) => {
      const c = result.connection;
      requireText(result.tenantId, 'tenantId');
      const upn = requireText(result.upn, 'upn').trim().toLowerCase();
      if (!isConnectionKind(result.kind)) throw invalid(`kind "${String(result.kind)}" is not a connection kind`);
      if (!isConnectionState(result.from)) throw invalid(`from "${String(result.from)}" is not a connection state`);
      const params = c ? connectionParams(c, 'connection') : undefined;
      if (c && (c.tenantId !== result.tenantId || params!.upn !== upn || c.kind !== result.kind)) throw invalid('connection is not the one of the item');
      return { result, upn, params, to: c?.state ?? result.from, code: c?.error?.code ?? null, at: c?.lastCheckedAt ?? c?.updatedAt ?? nowIso() };
    });
    return this.#db
      .transaction(() =>
        checked.map(({ result, upn, params, to, code, at }) => {
          const marked = this.#q.itemDone.run(result.from, to, code, result.tenantId, result.runId, upn, result.kind).changes > 0;
          if (!marked) return false;
          this.#q.runChecked.run(result.tenantId, result.runId);
          if (params) this.#q.connUpsert.run(params);
          if (result.from !== to) this.#q.historyInsert.run(result.tenantId, upn, result.kind, result.from, to, code, at, result.runId);
          return true;
        }),
      )
      .immediate();
  }

  async recordConnectionCheck(connection: ConnectionRecord, from: ConnectionState): Promise<void> {
    if (!isConnectionState(from)) throw invalid(`from "${String(from)}" is not a connection state`);
    const params = connectionParams(connection, 'connection');
    const at = connection.lastCheckedAt ?? connection.updatedAt;
    this.#db
      .transaction(() => {
        this.#q.connUpsert.run(params);
        if (from !== connection.state)
          this.#q.historyInsert.run(connection.tenantId, params.upn, connection.kind, from, connection.state, connection.error?.code ?? null, at, null);
      })
      .immediate();
  }

  async checkRunOutcome(tenantId: string, runId: string): Promise<{ byState: Partial<Record<ConnectionState, number>>; changes: CheckItemRecord[] }> {
    const byState: Partial<Record<ConnectionState, number>> = {};
    for (const r of this.#q.itemByState.all(tenantId, runId) as Array<{ to_state: ConnectionState; n: number }>) byState[r.to_state] = r.n;
    const changes = (this.#q.itemChanges.all(tenantId, runId) as CheckItemRow[]).map(checkItemFromRow);
    return { byState, changes };
  }

  async finishCheckRun(tenantId: string, id: string, status: 'done' | 'failed', finishedAt: string): Promise<void> {
    if (status !== 'done' && status !== 'failed') throw invalid(`status "${String(status)}" must be done or failed`);
    requireText(finishedAt, 'finishedAt');
    this.#q.runFinish.run(status, finishedAt, tenantId, id);
  }

  async connectionHistory(tenantId: string, upn: string, options: { limit?: number } = {}): Promise<ConnectionHistoryRecord[]> {
    return (this.#q.historyList.all(tenantId, upn.toLowerCase(), clampLimit(options.limit, 100)) as HistoryRow[]).map(
      (r) =>
        compact({
          tenantId: r.tenant_id,
          upn: r.upn,
          kind: r.kind,
          from: r.from_state,
          to: r.to_state,
          code: r.code,
          at: r.at,
          runId: r.run_id,
        }) as ConnectionHistoryRecord,
    );
  }

  // ---- audit log ---------------------------------------------------------------------------

  async audit(entry: Omit<AuditRecord, 'id' | 'at'> & { at?: string }): Promise<void> {
    requireText(entry.tenantId, 'tenantId');
    requireText(entry.actor, 'actor');
    requireText(entry.action, 'action');
    const at = entry.at ?? this.#now().toISOString();
    this.#q.auditInsert.run(
      randomUUID(),
      entry.tenantId,
      at,
      toMs(at, 'at'),
      entry.actor,
      entry.action,
      entry.target ?? null,
      entry.details === undefined ? null : JSON.stringify(entry.details),
    );
  }

  /**
   * Newest first. `before` pages on: pass the `id` of the last entry of the previous page
   * (exact keyset), or an ISO date (entries strictly older than it).
   */
  async listAudit(tenantId: string, options: { limit?: number; before?: string } = {}): Promise<AuditRecord[]> {
    const limit = clampLimit(options.limit, 100);
    let rows: AuditRow[];
    if (options.before === undefined || options.before === '') {
      rows = this.#q.auditList.all(tenantId, limit) as AuditRow[];
    } else {
      const anchor = this.#q.auditAnchor.get(tenantId, options.before) as { at_ms: number; seq: number } | undefined;
      if (anchor) rows = this.#q.auditListBefore.all(tenantId, anchor.at_ms, anchor.at_ms, anchor.seq, limit) as AuditRow[];
      else rows = this.#q.auditListBefore.all(tenantId, toMs(options.before, 'before'), -1, 0, limit) as AuditRow[];
    }
    return rows.map(auditFromRow);
  }

  // ---- leases ------------------------------------------------------------------------------

  async tryLease(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    const p = leaseParams(name, owner, ttlMs, now);
    // One statement: insert, take over an expired lease, or renew one's own; a row comes back only then.
    const row = this.#db
      .prepare(
        `INSERT INTO leases (name, owner, until_ms) VALUES (@name, @owner, @until)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
         WHERE leases.owner = excluded.owner OR leases.until_ms <= @now
         RETURNING owner`,
      )
      .get(p);
    return row !== undefined;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#db.prepare('DELETE FROM leases WHERE name = ? AND owner = ?').run(name, owner);
  }
}

// ---- opening and migrating -----------------------------------------------------------------

/** Checks that need no SQLite connection: the folder, permissions, the file header. */
function preflight(file: string): void {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreOpenError('unwritable', file, `cannot create the folder ${dir} (${errCode(err)})`, { cause: err });
  }
  if (!isWritable(dir)) throw new StoreOpenError('unwritable', file, `the folder ${dir} is not writable (SQLite keeps its journal beside the file)`);

  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new StoreOpenError('unwritable', file, 'the path exists and is not a regular file');
    size = st.size;
  } catch (err) {
    if (err instanceof StoreOpenError) throw err;
    if (errCode(err) === 'ENOENT') return; // a new database
    throw new StoreOpenError('unwritable', file, `cannot read the file (${errCode(err)})`, { cause: err });
  }
  if (!isWritable(file)) throw new StoreOpenError('unwritable', file, 'the file is not writable');
  if (size === 0) return; // SQLite treats an empty file as a new database

  const header = readHead(file, SQLITE_HEADER.length);
  if (header.length < SQLITE_HEADER.length || !header.equals(SQLITE_HEADER)) {
    throw new StoreOpenError('corrupt', file, 'it is not a SQLite database (wrong header: corrupt, or another kind of file)');
  }

  // With an un-checkpointed WAL beside it the main file alone is not the database: let SQLite decide.
  if (size > PROBE_MAX_BYTES || fileSize(`${file}-wal`) > 0) return;
  probeCopy(file);
}

/**
 * Opens a copy of the file in memory, read-only, so that a corrupt or unexpected database is
 * diagnosed without SQLite ever opening (and possibly creating -wal/-shm beside) the real file.
 */
function probeCopy(file: string): void {
  const copy = readFileSync(file);
  // A WAL-mode header makes an in-memory copy unopenable; the copy reads fine as a rollback database.
  if (copy.length > 19) copy[18] = copy[19] = 1;
  let db: Db | undefined;
  try {
    db = new Database(copy, { readonly: true });
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw new StoreOpenError('corrupt', file, `it is not a SQLite database it can use (damaged; integrity check: ${String(check)})`);
    inspect(db, file);
  } catch (err) {
    throw toOpenError(err, file);
  } finally {
    db?.close();
  }
}

/** Refuses another application's database and one written by a newer schema; returns the version. */
function inspect(db: Db, file: string): number {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck().all() as string[];
  if (tables.length === 0) return 0;
  if (!tables.includes('schema_migrations')) {
    throw new StoreOpenError(
      'foreign',
      file,
      `it is a SQLite database of another application (tables: ${tables.slice(0, 5).join(', ')}); point DATA_STORE at a new file`,
    );
  }
  const version = db.prepare('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck().get() as number;
  if (version > LATEST_SCHEMA_VERSION) {
    throw new StoreOpenError(
      'newer-schema',
      file,
      `it was written by a newer version of Connection Center (schema ${version}; this build knows up to ${LATEST_SCHEMA_VERSION}); upgrade the app or restore a backup`,
    );
  }
  return version;
}

function migrate(db: Db, file: string): void {
  for (const m of MIGRATIONS) {
    db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
      // Re-read inside the write lock: another process may have migrated meanwhile.
      const current = inspect(db, file);
      if (current >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, nowIso());
    }).immediate();
  }
}

function toOpenError(err: unknown, file: string): StoreOpenError {
  if (err instanceof StoreOpenError) return err;
  const code = errCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
    return new StoreOpenError('corrupt', file, `it is not a SQLite database (${detail})`, { cause: err });
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM') {
    return new StoreOpenError('unwritable', file, `cannot write the database (${detail})`, { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreOpenError('failed', file, 'the database is locked by another process', { cause: err });
  }
  return new StoreOpenError('failed', file, detail, { cause: err });
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const read = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}

// ---- statements ----------------------------------------------------------------------------

/**
 * The admin list's page query for the named parameters present (also explained by bench/store.ts).
 * A state or kind filter names its index: without statistics SQLite would walk the primary key
 * (already in page order) and test every row of the tenant, slow for a rare state.
 */
export function connectionPageSql(params: Record<string, unknown>): string {
  const index = 'state' in params ? ' INDEXED BY connections_by_state' : 'kind' in params ? ' INDEXED BY connections_by_kind' : '';
  const where = ['tenant_id = @tenantId'];
  if ('state' in params) where.push('state = @state');
  if ('kind' in params) where.push('kind = @kind');
  if ('search' in params) where.push('instr(search_text, @search) > 0');
  if ('afterUpn' in params) where.push('(upn, kind) > (@afterUpn, @afterKind)');
  return `SELECT * FROM connections${index} WHERE ${where.join(' AND ')} ORDER BY upn, kind LIMIT @limit`;
}

/** The summary's counts (also explained by bench/store.ts). */
export const COUNT_CONNECTIONS_SQLITE = 'SELECT kind, state, count(*) AS count FROM connections WHERE tenant_id = ? GROUP BY kind, state ORDER BY kind, state';

function prepareAll(db: Db) {
  const p = (sql: string): Stmt => db.prepare(sql);
  return {
    ping: p('SELECT 1'),
    totalChanges: p('SELECT total_changes()').pluck(),
    dataVersion: p('PRAGMA data_version').pluck(),

    tenantGet: p('SELECT * FROM tenants WHERE tenant_id = ?'),
    tenantInsertIgnore: p(
      'INSERT INTO tenants (tenant_id, display_name, enabled_features, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO NOTHING',
    ),
    tenantUpdate: p(`UPDATE tenants SET
        display_name = CASE WHEN @setName = 1 THEN @displayName ELSE display_name END,
        enabled_features = CASE WHEN @setFeatures = 1 THEN @features ELSE enabled_features END,
        deadline_overrides = CASE WHEN @setOverrides = 1 THEN @overrides ELSE deadline_overrides END,
        updated_at = @now
      WHERE tenant_id = @tenantId`),
    tenantList: p('SELECT * FROM tenants ORDER BY tenant_id'),

    userUpsert: p(`INSERT INTO users (tenant_id, oid, upn, display_name, roles, last_seen_at, admin_proven_at)
      VALUES (@tenantId, @oid, @upn, @displayName, @roles, @lastSeenAt, @adminProvenAt)
      ON CONFLICT (tenant_id, oid) DO UPDATE SET upn = excluded.upn, display_name = excluded.display_name, roles = excluded.roles,
        last_seen_at = excluded.last_seen_at, admin_proven_at = CASE WHEN @setProof = 1 THEN excluded.admin_proven_at ELSE users.admin_proven_at END`),
    userGet: p('SELECT * FROM users WHERE tenant_id = ? AND oid = ?'),
    usersWithRole: p('SELECT * FROM users WHERE tenant_id = ? AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE json_each.value = ?) ORDER BY upn, oid'),

    domainsGet: p('SELECT domain FROM domains WHERE tenant_id = ? ORDER BY domain'),
    domainsClear: p('DELETE FROM domains WHERE tenant_id = ?'),
    domainInsert: p('INSERT INTO domains (tenant_id, domain) VALUES (?, ?)'),

    saGet: p('SELECT * FROM service_accounts WHERE tenant_id = ?'),
    saUpsert:
      p(`INSERT INTO service_accounts (tenant_id, tenant, client_id, secret_box, key_id, secret_hint, secret_expires_at, test_account, out_of_scope_account, features, updated_at, updated_by)
      VALUES (@tenantId, @tenant, @clientId, @box, @kid, @hint, @expires, @testAccount, @outOfScope, @features, @updatedAt, @updatedBy)
      ON CONFLICT (tenant_id) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id, secret_box = excluded.secret_box, key_id = excluded.key_id,
        secret_hint = excluded.secret_hint, secret_expires_at = excluded.secret_expires_at, test_account = excluded.test_account,
        out_of_scope_account = excluded.out_of_scope_account, features = excluded.features, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
    saDelete: p('DELETE FROM service_accounts WHERE tenant_id = ?'),
    saTestInsert: p('INSERT INTO service_account_tests (tenant_id, record) VALUES (?, ?)'),
    saTestTrim: p(
      'DELETE FROM service_account_tests WHERE tenant_id = ? AND seq NOT IN (SELECT seq FROM service_account_tests WHERE tenant_id = ? ORDER BY seq DESC LIMIT 2)',
    ),
    saTestRows: p('SELECT seq, record FROM service_account_tests WHERE tenant_id = ?'),
    saTestSet: p('UPDATE service_account_tests SET record = ? WHERE seq = ?'),
    saTestList: p('SELECT record FROM service_account_tests WHERE tenant_id = ? ORDER BY seq DESC LIMIT 2'),

    connGet: p('SELECT * FROM connections WHERE tenant_id = ? AND upn = ? ORDER BY kind'),
    connUpsert:
      p(`INSERT INTO connections (tenant_id, upn, kind, oid, display_name, search_text, state, granted_scopes, home_account_id, last_checked_at, last_sync_at, error, feature_results, created_at, updated_at)
      VALUES (@tenantId, @upn, @kind, @oid, @displayName, @searchText, @state, @grantedScopes, @homeAccountId, @lastCheckedAt, @lastSyncAt, @error, @featureResults, @createdAt, @updatedAt)
      ON CONFLICT (tenant_id, upn, kind) DO UPDATE SET oid = excluded.oid, display_name = excluded.display_name, search_text = excluded.search_text,
        state = excluded.state, granted_scopes = excluded.granted_scopes, home_account_id = excluded.home_account_id, last_checked_at = excluded.last_checked_at,
        last_sync_at = excluded.last_sync_at, error = excluded.error, feature_results = excluded.feature_results, updated_at = excluded.updated_at`),
    connDelete: p('DELETE FROM connections WHERE tenant_id = ? AND upn = ? AND kind = ?'),
    connCount: p(COUNT_CONNECTIONS_SQLITE),

    runRunning: p("SELECT * FROM check_runs WHERE tenant_id = ? AND status = 'running'"),
    runNextSeq: p('SELECT coalesce(max(seq), 0) + 1 FROM check_runs WHERE tenant_id = ?'),
    runInsert: p(`INSERT INTO check_runs (id, tenant_id, status, started_by, started_at, started_ms, total, checked, seq)
      VALUES (?, ?, 'running', ?, ?, ?, ?, 0, ?)`),
    runGet: p('SELECT * FROM check_runs WHERE tenant_id = ? AND id = ?'),
    runLatest: p('SELECT * FROM check_runs WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1'),
    runAllRunning: p("SELECT * FROM check_runs WHERE status = 'running' ORDER BY started_ms"),
    runChecked: p('UPDATE check_runs SET checked = checked + 1 WHERE tenant_id = ? AND id = ?'),
    runFinish: p("UPDATE check_runs SET status = ?, finished_at = ? WHERE tenant_id = ? AND id = ? AND status = 'running'"),
    itemInsert: p('INSERT INTO check_items (tenant_id, run_id, upn, kind) VALUES (?, ?, ?, ?)'),
    itemPending: p('SELECT * FROM check_items WHERE tenant_id = ? AND run_id = ? AND done = 0 ORDER BY upn, kind LIMIT ?'),
    itemDone: p(`UPDATE check_items SET done = 1, from_state = ?, to_state = ?, code = ?
      WHERE tenant_id = ? AND run_id = ? AND upn = ? AND kind = ? AND done = 0`),
    itemByState: p('SELECT to_state, count(*) AS n FROM check_items WHERE tenant_id = ? AND run_id = ? AND done = 1 GROUP BY to_state'),
    itemChanges: p('SELECT * FROM check_items WHERE tenant_id = ? AND run_id = ? AND done = 1 AND from_state <> to_state ORDER BY upn, kind'),
    historyInsert: p('INSERT INTO connection_history (tenant_id, upn, kind, from_state, to_state, code, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    historyList: p('SELECT * FROM connection_history WHERE tenant_id = ? AND upn = ? ORDER BY seq DESC LIMIT ?'),

    tcGet: p('SELECT box FROM token_caches WHERE tenant_id = ? AND partition_key = ?'),
    tcUpsert: p(`INSERT INTO token_caches (tenant_id, partition_key, box, key_id, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (tenant_id, partition_key) DO UPDATE SET box = excluded.box, key_id = excluded.key_id, updated_at = excluded.updated_at`),
    tcDelete: p('DELETE FROM token_caches WHERE tenant_id = ? AND partition_key = ?'),

    asInsert: p('INSERT INTO auth_states (state_hash, tenant_id, box, key_id, expires_ms) VALUES (?, ?, ?, ?, ?)'),
    asTake: p('DELETE FROM auth_states WHERE state_hash = ? RETURNING box, expires_ms'),
    asPurge: p('DELETE FROM auth_states WHERE expires_ms <= ?'),
    seUpsert: p(`INSERT INTO sessions (id_hash, tenant_id, oid, box, key_id, expires_ms) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id_hash) DO UPDATE SET tenant_id = excluded.tenant_id, oid = excluded.oid, box = excluded.box, key_id = excluded.key_id, expires_ms = excluded.expires_ms`),
    seGet: p('SELECT box FROM sessions WHERE id_hash = ? AND expires_ms > ?'),
    seDelete: p('DELETE FROM sessions WHERE id_hash = ?'),
    sePurge: p('DELETE FROM sessions WHERE expires_ms <= ?'),

    convUpsert: p(`INSERT INTO conversations (tenant_id, conversation_id, scope, user_oid, user_upn, subscribed, reference, updated_at)
      VALUES (@tenantId, @conversationId, @scope, @userOid, @userUpn, @subscribed, @reference, @updatedAt)
      ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET scope = excluded.scope, user_oid = excluded.user_oid, user_upn = excluded.user_upn,
        subscribed = excluded.subscribed, reference = excluded.reference, updated_at = excluded.updated_at`),
    convGet: p('SELECT * FROM conversations WHERE tenant_id = ? AND conversation_id = ?'),
    convDelete: p('DELETE FROM conversations WHERE tenant_id = ? AND conversation_id = ?'),
    convList: p(`SELECT * FROM conversations WHERE tenant_id = @tenantId
        AND (@subscribed IS NULL OR subscribed = @subscribed) AND (@scope IS NULL OR scope = @scope)
      ORDER BY conversation_id`),
    convPersonal: p(`SELECT * FROM conversations WHERE tenant_id = ? AND scope = 'personal' AND (user_oid = ? OR user_upn = ?)
      ORDER BY updated_at DESC LIMIT 1`),

    outboxInsert: p(`INSERT INTO outbox (id, tenant_id, kind, idempotency_key, conversation_id, payload, status, attempts, next_attempt_ms, created_at)
      VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`),
    outboxDue: p("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ? ORDER BY seq LIMIT ?"),
    outboxClaim: p(`UPDATE outbox SET lease_owner = @owner, lease_until_ms = @until
      WHERE seq IN (SELECT seq FROM outbox WHERE status = 'pending' AND next_attempt_ms <= @now AND (lease_until_ms IS NULL OR lease_until_ms <= @now OR lease_owner = @owner)
        ORDER BY seq LIMIT @limit)
      RETURNING *`),
    outboxSent: p(
      "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, lease_owner = NULL, lease_until_ms = NULL WHERE id = ? AND status = 'pending'",
    ),
    outboxRetry: p(
      "UPDATE outbox SET next_attempt_ms = ?, last_error = ?, attempts = attempts + 1, lease_owner = NULL, lease_until_ms = NULL WHERE id = ? AND status = 'pending'",
    ),
    outboxFailed: p(
      "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1, lease_owner = NULL, lease_until_ms = NULL WHERE id = ? AND status = 'pending'",
    ),
    outboxExists: p('SELECT 1 FROM outbox WHERE id = ?'),
    outboxList: p('SELECT * FROM outbox WHERE tenant_id = @tenantId AND (@status IS NULL OR status = @status) ORDER BY seq'),

    campaignGet: p('SELECT record FROM campaigns WHERE tenant_id = ?'),
    campaignUpsert: p(`INSERT INTO campaigns (tenant_id, status, record, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (tenant_id) DO UPDATE SET status = excluded.status, record = excluded.record, updated_at = excluded.updated_at`),
    campaignRunning: p("SELECT record FROM campaigns WHERE status = 'running' ORDER BY tenant_id"),
    reachGet: p('SELECT record FROM reach_users WHERE tenant_id = ? AND upn = ?'),
    reachUpsert: p(`INSERT INTO reach_users (tenant_id, upn, oid, record, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (tenant_id, upn) DO UPDATE SET oid = excluded.oid, record = excluded.record, updated_at = excluded.updated_at`),
    reachList: p('SELECT upn, record FROM reach_users WHERE tenant_id = ? AND upn > ? ORDER BY upn LIMIT ?'),

    auditInsert: p('INSERT INTO audit_log (id, tenant_id, at, at_ms, actor, action, target, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    auditList: p('SELECT * FROM audit_log WHERE tenant_id = ? ORDER BY at_ms DESC, seq DESC LIMIT ?'),
    auditAnchor: p('SELECT at_ms, seq FROM audit_log WHERE tenant_id = ? AND id = ?'),
    auditListBefore: p(`SELECT * FROM audit_log WHERE tenant_id = ? AND (at_ms < ? OR (at_ms = ? AND seq < ?))
      ORDER BY at_ms DESC, seq DESC LIMIT ?`),

    rotSaList: p('SELECT tenant_id, secret_box AS box FROM service_accounts WHERE key_id <> ? LIMIT ?'),
    rotSaSet: p('UPDATE service_accounts SET secret_box = ?, key_id = ? WHERE tenant_id = ? AND secret_box = ?'),
    rotSaCount: p('SELECT count(*) FROM service_accounts WHERE key_id <> ?'),
    rotTcList: p('SELECT tenant_id, partition_key, box FROM token_caches WHERE key_id <> ? LIMIT ?'),
    rotTcSet: p('UPDATE token_caches SET box = ?, key_id = ? WHERE tenant_id = ? AND partition_key = ? AND box = ?'),
    rotTcCount: p('SELECT count(*) FROM token_caches WHERE key_id <> ?'),
    rotAsList: p('SELECT state_hash, box FROM auth_states WHERE key_id <> ? LIMIT ?'),
    rotAsSet: p('UPDATE auth_states SET box = ?, key_id = ? WHERE state_hash = ? AND box = ?'),
    rotAsCount: p('SELECT count(*) FROM auth_states WHERE key_id <> ?'),
    rotSeList: p('SELECT id_hash, box FROM sessions WHERE key_id <> ? LIMIT ?'),
    rotSeSet: p('UPDATE sessions SET box = ?, key_id = ? WHERE id_hash = ? AND box = ?'),
    rotSeCount: p('SELECT count(*) FROM sessions WHERE key_id <> ?'),
  };
}

// ---- rows ----------------------------------------------------------------------------------

/** A row listed for key rotation: its key columns and its sealed value. */
interface SealedRow {
  tenant_id?: string;
  partition_key?: string;
  state_hash?: string;
  id_hash?: string;
  box: string;
}

interface TenantRow {
  tenant_id: string;
  display_name: string | null;
  enabled_features: string;
  deadline_overrides: string | null;
  created_at: string;
  updated_at: string;
}
interface UserRow {
  tenant_id: string;
  oid: string;
  upn: string;
  display_name: string | null;
  roles: string;
  last_seen_at: string;
  admin_proven_at: string | null;
}
interface ServiceAccountRow {
  tenant_id: string;
  tenant: string;
  client_id: string;
  secret_box: string;
  secret_hint: string;
  secret_expires_at: string | null;
  test_account: string;
  out_of_scope_account: string | null;
  features: string;
  updated_at: string;
  updated_by: string;
}
interface ConnectionRow {
  tenant_id: string;
  upn: string;
  kind: ConnectionKind;
  oid: string | null;
  display_name: string | null;
  state: ConnectionState;
  granted_scopes: string;
  home_account_id: string | null;
  last_checked_at: string | null;
  last_sync_at: string | null;
  error: string | null;
  feature_results: string | null;
  created_at: string;
  updated_at: string;
}
interface CheckRunRow {
  id: string;
  tenant_id: string;
  status: CheckRunRecord['status'];
  started_by: string;
  started_at: string;
  finished_at: string | null;
  total: number;
  checked: number;
}
interface CheckItemRow {
  upn: string;
  kind: ConnectionKind;
  done: number;
  from_state: ConnectionState | null;
  to_state: ConnectionState | null;
  code: string | null;
}
interface HistoryRow {
  tenant_id: string;
  upn: string;
  kind: ConnectionKind;
  from_state: ConnectionState;
  to_state: ConnectionState;
  code: string | null;
  at: string;
  run_id: string | null;
}

function checkRunFromRow(r: CheckRunRow): CheckRunRecord {
  return compact({
    id: r.id,
    tenantId: r.tenant_id,
    status: r.status,
    startedBy: r.started_by,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    total: r.total,
    checked: r.checked,
  }) as CheckRunRecord;
}

function checkItemFromRow(r: CheckItemRow): CheckItemRecord {
  return compact({ upn: r.upn, kind: r.kind, done: r.done === 1, from: r.from_state, to: r.to_state, code: r.code }) as CheckItemRecord;
}

interface ConversationRow {
  tenant_id: string;
  conversation_id: string;
  scope: ConversationScope;
  user_oid: string | null;
  user_upn: string | null;
  subscribed: number;
  reference: string;
  updated_at: string;
}
interface OutboxRow {
  id: string;
  tenant_id: string;
  kind: OutboxRecord['kind'];
  idempotency_key: string;
  conversation_id: string;
  payload: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_ms: number;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}
interface AuditRow {
  id: string;
  tenant_id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: string | null;
}

function tenantFromRow(r: TenantRow): TenantRecord {
  return compact({
    tenantId: r.tenant_id,
    displayName: r.display_name,
    enabledFeatures: JSON.parse(r.enabled_features) as Feature[],
    deadlineOverrides: r.deadline_overrides ? (JSON.parse(r.deadline_overrides) as Record<string, string>) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }) as TenantRecord;
}

function userFromRow(r: UserRow): UserRecord {
  return compact({
    tenantId: r.tenant_id,
    oid: r.oid,
    upn: r.upn,
    displayName: r.display_name,
    roles: JSON.parse(r.roles) as string[],
    lastSeenAt: r.last_seen_at,
    adminProvenAt: r.admin_proven_at,
  }) as UserRecord;
}

function connectionFromRow(r: ConnectionRow): ConnectionRecord {
  return compact({
    tenantId: r.tenant_id,
    upn: r.upn,
    kind: r.kind,
    oid: r.oid,
    displayName: r.display_name,
    state: r.state,
    grantedScopes: JSON.parse(r.granted_scopes) as string[],
    homeAccountId: r.home_account_id,
    lastCheckedAt: r.last_checked_at,
    lastSyncAt: r.last_sync_at,
    error: r.error ? JSON.parse(r.error) : null,
    featureResults: r.feature_results ? JSON.parse(r.feature_results) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }) as ConnectionRecord;
}

function conversationFromRow(r: ConversationRow): ConversationRecord {
  return compact({
    tenantId: r.tenant_id,
    conversationId: r.conversation_id,
    scope: r.scope,
    userOid: r.user_oid,
    userUpn: r.user_upn,
    subscribed: r.subscribed === 1,
    reference: JSON.parse(r.reference) as Record<string, unknown>,
    updatedAt: r.updated_at,
  }) as ConversationRecord;
}

function outboxFromRow(r: OutboxRow): OutboxRecord {
  return compact({
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind,
    idempotencyKey: r.idempotency_key,
    conversationId: r.conversation_id,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: new Date(r.next_attempt_ms).toISOString(),
    lastError: r.last_error,
    createdAt: r.created_at,
    sentAt: r.sent_at,
  }) as OutboxRecord;
}

function auditFromRow(r: AuditRow): AuditRecord {
  return compact({
    id: r.id,
    tenantId: r.tenant_id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
  }) as AuditRecord;
}

// ---- small helpers -------------------------------------------------------------------------
