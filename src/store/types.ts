/**
 * The Store: every record the product keeps, behind one interface, contract-tested once (tests/contract/store.contract.ts) and run against every implementation.
 * It is made of one narrow interface per record group (TenantRecords, OutboxRecords, …) and
 * StoreLifecycle; a caller takes only the groups it uses, and each implementation answers every
 * group with its own repository (src/store/sqlite/, src/store/postgres/).
 * Every method is async so that a shared store (Azure Table Storage) can implement it later;
 * every record is keyed by tenant id (`tid`), and no method reads across tenants except the
 * explicitly named maintenance ones (`listTenants`, `dueOutbox`, `purgeExpired`).
 * Secret fields (client secret, token cache) are encrypted by the implementation before they touch
 * disk, with the key id stored beside them so the key can be rotated.
 */
import type { ConnectionKind, ConnectionState } from '../domain/connection';
import type { ErrorBody } from '../domain/errors';
import type { Feature } from '../domain/features';
import type { CampaignStatus, UnreachableReason } from '../domain/reach';
// Test results are stored as the contract shows them.
import type { FeatureMatrixEntry, FeatureResults, ServiceAccountView, TestStep } from '../contract';

export type { FeatureResult, FeatureResults } from '../contract';

export interface TenantRecord {
  /** Entra tenant id (GUID). */
  tenantId: string;
  displayName?: string;
  /** Features the organisation uses; drives which scopes users are asked for. */
  enabledFeatures: Feature[];
  /** Per-tenant deadline overrides, by deadline id → ISO date. */
  deadlineOverrides?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** A person seen through a verified token (tab) or imported; roles as of the last sign-in. */
export interface UserRecord {
  tenantId: string;
  oid: string;
  upn: string;
  displayName?: string;
  /** App roles from the last verified token, e.g. ConnectionCenter.Admin. */
  roles: string[];
  lastSeenAt: string;
  /**
   * When a verified SSO token or browser session last showed this user as an admin (ISO time);
   * absent when never, or when a later verified token showed they are not one any more.
   */
  adminProvenAt?: string;
}

/**
 * What putUser writes: `adminProvenAt` as a time sets the proof, `null` clears it, and leaving it
 * out keeps what is stored (a record written without a verified token says nothing about it).
 */
export type UserWrite = Omit<UserRecord, 'adminProvenAt'> & { adminProvenAt?: string | null };

/** The saved service account: what the admin view shows, plus the tenant it binds to and the secret. */
export interface ServiceAccountRecord extends ServiceAccountView {
  tenantId: string;
  /** Plain text only in memory; the store encrypts it at rest. Never returned by the API. */
  clientSecret: string;
}

export interface ServiceAccountTestRecord {
  tenantId: string;
  ranAt: string;
  ranBy: string;
  /** Hash of the configuration tested (secret included) so a later save can tell if it matches. */
  configHash: string;
  ok: boolean;
  steps: TestStep[];
  features: Record<Feature, FeatureMatrixEntry>;
  grantedRoles: string[];
}

export interface ConnectionRecord {
  tenantId: string;
  /** Lower-cased user principal name; the key across imports and sign-ins. */
  upn: string;
  kind: ConnectionKind;
  /** Entra object id, once the user has signed in. */
  oid?: string;
  displayName?: string;
  state: ConnectionState;
  grantedScopes: string[];
  /** MSAL home account id (`oid.tid`) of the token-cache partition, for graph-delegated. */
  homeAccountId?: string;
  lastCheckedAt?: string;
  lastSyncAt?: string;
  error?: ErrorBody;
  /** Per-feature result of the last health check (features that were probed only). */
  featureResults?: FeatureResults;
  createdAt: string;
  updatedAt: string;
}

export type CheckRunStatus = 'running' | 'done' | 'failed';
/** One health-check run of a tenant (scheduled or started by an admin). */
export interface CheckRunRecord {
  id: string;
  tenantId: string;
  status: CheckRunStatus;
  /** `schedule` or the upn of the admin who started it. */
  startedBy: string;
  startedAt: string;
  finishedAt?: string;
  /** Connections in the run (fixed when it starts). */
  total: number;
  /** Connections checked so far. */
  checked: number;
}
/** A connection in a run: pending until checked, then its state before and after. */
export interface CheckItemRecord {
  upn: string;
  kind: ConnectionKind;
  done: boolean;
  from?: ConnectionState;
  to?: ConnectionState;
  code?: string;
}
/** Where an item stands in a run's order (upn, then kind). */
export type CheckItemKey = Pick<CheckItemRecord, 'upn' | 'kind'>;
/** A pending item with its connection as stored now (absent when it was deleted since the run started). */
export interface PendingCheckWork {
  item: CheckItemRecord;
  connection?: ConnectionRecord;
}
/** A state change of a connection, kept for history (from, to, code, at). */
export interface ConnectionHistoryRecord {
  tenantId: string;
  upn: string;
  kind: ConnectionKind;
  from: ConnectionState;
  to: ConnectionState;
  code?: string;
  at: string;
  /** The health-check run that saw it, when one did. */
  runId?: string;
  /** Who removed the connection, for a removal (since this was kept); absent otherwise: a run's (runId) or the user's Test or reconnect. */
  changedBy?: ConnectionChangedBy;
}
/** Who made a change of connection that no health check saw. */
export type ConnectionChangedBy = 'user' | 'system';
/** Checked in a run: the connection as written now (absent when it was deleted meanwhile), and its state before. */
export interface CheckItemResult {
  runId: string;
  tenantId: string;
  upn: string;
  kind: ConnectionKind;
  from: ConnectionState;
  connection?: ConnectionRecord;
  /**
   * The `updatedAt` of the connection the check started from. With it, only what a check finds
   * (state, the scopes its token was granted, feature results, error, lastCheckedAt, updatedAt) is
   * written, and only while the stored connection is still that one: a connection its user
   * reconnected, tested, removed or handed to a new owner while it was being checked keeps what
   * they did, and its item is done unchanged.
   */
  unchangedSince?: string;
}

export interface ConnectionQuery {
  state?: ConnectionState;
  kind?: ConnectionKind;
  /** Case-insensitive substring of upn or display name. */
  search?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit?: number;
}
export interface ConnectionPage {
  items: ConnectionRecord[];
  nextCursor?: string;
}

export interface AuthStateRecord {
  /** The random `state` value (also the key). */
  state: string;
  tenantId: string;
  oid: string;
  upn: string;
  /**
   * The step of the consent round trip this record stands for. `ticket`: the one-time start URL
   * POST /api/me/connect hands out (spent by /auth/start; no PKCE yet, so codeVerifier, nonce and
   * scopes are empty). `consent`: the `state` sent to Entra (spent by /auth/callback).
   */
  stage: 'ticket' | 'consent';
  codeVerifier: string;
  nonce: string;
  scopes: string[];
  /** How to finish: a Teams popup (notifySuccess) or a browser redirect. */
  mode: 'popup' | 'redirect';
  expiresAt: string;
}

export interface SessionRecord {
  id: string;
  tenantId: string;
  oid: string;
  upn: string;
  name?: string;
  roles: string[];
  csrfToken: string;
  expiresAt: string;
}

export type ConversationScope = 'personal' | 'team' | 'groupChat';
export interface ConversationRecord {
  tenantId: string;
  conversationId: string;
  scope: ConversationScope;
  /** For personal chats: the user's Entra object id and upn. */
  userOid?: string;
  userUpn?: string;
  /** Admin cards go here: personal chats of admins, and channels where `subscribe here` was typed. */
  subscribed: boolean;
  /** The botbuilder ConversationReference, as JSON. */
  reference: Record<string, unknown>;
  updatedAt: string;
}

export type OutboxKind =
  'permissions.missing' | 'test.failed' | 'test.passed' | 'deadline.approaching' | 'connection.lost' | 'secret.expiring' | 'reconnect.nudge' | 'check.digest';
export type OutboxStatus = 'pending' | 'sent' | 'failed';
export interface OutboxRecord {
  id: string;
  tenantId: string;
  kind: OutboxKind;
  /** (tenant, kind, subject, milestone): a second enqueue with the same key is ignored. */
  idempotencyKey: string;
  conversationId: string;
  payload: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  createdAt: string;
  sentAt?: string;
}
export type NewOutboxItem = Pick<OutboxRecord, 'tenantId' | 'kind' | 'idempotencyKey' | 'conversationId' | 'payload'>;

/** The reconnect campaign of a tenant (one at a time). */
export interface CampaignRecord {
  tenantId: string;
  status: CampaignStatus;
  startedAt?: string;
  startedBy?: string;
  /** Only users in these mail domains (lower-cased); none = everyone targeted. */
  domains?: string[];
  /** Bumped by every start: nudges of a new campaign are new messages, repeats of a step are not. */
  round: number;
  lastStepAt?: string;
  updatedAt: string;
}

/**
 * One person as reach sees them: whether the bot is with them (and who put it there), why it cannot
 * be, and the campaign funnel's timestamps. Keyed by (tenant, upn).
 */
export interface ReachUserRecord {
  tenantId: string;
  upn: string;
  oid?: string;
  /** `installed` = the product installed the bot; `present` = it was there already; `removed` = the user removed it. */
  bot?: 'installed' | 'present' | 'removed';
  botChangedAt?: string;
  /** Set while the bot cannot be installed for this user. */
  unreachable?: UnreachableReason;
  /** The campaign round these funnel fields belong to. */
  round?: number;
  targetedAt?: string;
  installedAt?: string;
  nudgedAt?: string;
  lastNudgedAt?: string;
  lastMilestone?: string;
  nudges?: number;
  openedAt?: string;
  reconnectedAt?: string;
  updatedAt: string;
}

export interface ReachUserPage {
  items: ReachUserRecord[];
  nextCursor?: string;
}

export interface AuditRecord {
  id: string;
  tenantId: string;
  at: string;
  /** upn (or oid) of who did it; `system` for the server itself. */
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

/** Encrypted values by where they live; counts for key rotation (`npm run keys:rotate`, /readyz). */
export interface EncryptedValueCounts {
  serviceAccountSecrets: number;
  tokenCaches: number;
  authStates: number;
  sessions: number;
}

/** Opening is the implementation's own; this is what every open store does besides its records. */
export interface StoreLifecycle {
  /** Readiness probe: resolves when the store can serve requests. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Optional, synchronous and cheap: a value that differs whenever any record may have changed
   * since it was last read (a write by this process or by another one), so hot read paths can
   * keep what they derived in between. A store that cannot tell this cheaply leaves it out.
   */
  changeStamp?(): string;

  // Key rotation: every encrypted value names the key that sealed it.
  /**
   * Rewrites every value sealed with another key than the keyring's current one, in small batches
   * that each commit on their own (stopping half way loses nothing; running again finishes the job).
   * A value written meanwhile by the running product is left as that write made it.
   * Returns how many values were rewritten.
   */
  reencryptAll(options?: { batchSize?: number }): Promise<EncryptedValueCounts>;
  /** How many values are still sealed with another key than the current one. */
  countRetiredKeyValues(): Promise<EncryptedValueCounts>;
  /**
   * Test results name the configuration they tested by a keyed fingerprint (`configHash`); when
   * the key changes, the saved configuration's fingerprint changes with it. Renames `fromHash` to
   * `toHash` in the tenant's stored tests; returns how many were renamed.
   */
  rekeyServiceAccountTests(tenantId: string, fromHash: string, toHash: string): Promise<number>;
}

/** Tenants and their settings (features, deadline overrides). */
export interface TenantRecords {
  getTenant(tenantId: string): Promise<TenantRecord | undefined>;
  /** Creates the tenant with defaults if missing; returns it. */
  ensureTenant(tenantId: string, defaults?: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures'>>): Promise<TenantRecord>;
  updateTenant(tenantId: string, patch: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures' | 'deadlineOverrides'>>): Promise<TenantRecord>;
  listTenants(): Promise<TenantRecord[]>;
}

/** Users seen signing in (for admin lookups by the bot). */
export interface UserRecords {
  putUser(record: UserWrite): Promise<void>;
  getUser(tenantId: string, oid: string): Promise<UserRecord | undefined>;
  /** Users whose last-seen roles include the given role. */
  listUsersWithRole(tenantId: string, role: string): Promise<UserRecord[]>;
}

/** A tenant's mail domains (lower-cased, unique per tenant). */
export interface DomainRecords {
  getDomains(tenantId: string): Promise<string[]>;
  /** Replaces the whole list atomically. */
  setDomains(tenantId: string, domains: string[]): Promise<void>;
}

/** The service account (one per tenant) and its tests. */
export interface ServiceAccountRecords {
  getServiceAccount(tenantId: string): Promise<ServiceAccountRecord | undefined>;
  putServiceAccount(record: ServiceAccountRecord): Promise<void>;
  deleteServiceAccount(tenantId: string): Promise<boolean>;
  /** Stores a test result; keeps the previous one so verdict changes can be seen. */
  putServiceAccountTest(record: ServiceAccountTestRecord): Promise<void>;
  /** The latest test first, then the one before (at most two). */
  getServiceAccountTests(tenantId: string): Promise<ServiceAccountTestRecord[]>;
}

/** Connections, one per (tenant, upn, kind). */
export interface ConnectionRecords {
  getConnections(tenantId: string, upn: string): Promise<ConnectionRecord[]>;
  putConnection(record: ConnectionRecord): Promise<void>;
  /**
   * Deletes the row only: the user's history keeps its last state as if the connection were still
   * there. The product removes connections with `CheckRecords.removeConnectionWithHistory`.
   */
  deleteConnection(tenantId: string, upn: string, kind: ConnectionKind): Promise<boolean>;
  /** Inserts or replaces many at once, all or nothing. */
  importConnections(records: ConnectionRecord[]): Promise<void>;
  queryConnections(tenantId: string, query: ConnectionQuery): Promise<ConnectionPage>;
  /** Counts by kind and state. */
  countConnections(tenantId: string): Promise<Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>>;
}

/** Token cache partitions (MSAL serialized cache, one per user; encrypted at rest). */
export interface TokenCacheRecords {
  getTokenCache(tenantId: string, partitionKey: string): Promise<string | undefined>;
  putTokenCache(tenantId: string, partitionKey: string, serialized: string): Promise<void>;
  deleteTokenCache(tenantId: string, partitionKey: string): Promise<boolean>;
}

/** Auth states of the consent round trip (single use). */
export interface AuthStateRecords {
  putAuthState(record: AuthStateRecord): Promise<void>;
  /** Returns and deletes the record in one step; undefined if unknown, used or expired. */
  takeAuthState(state: string, now: Date): Promise<AuthStateRecord | undefined>;
}

/** Browser sessions. */
export interface SessionRecords {
  putSession(record: SessionRecord): Promise<void>;
  getSession(id: string, now: Date): Promise<SessionRecord | undefined>;
  deleteSession(id: string): Promise<void>;
  /** Removes expired auth states and sessions. */
  purgeExpired(now: Date): Promise<number>;
}

/** Conversation references for the bot. */
export interface ConversationRecords {
  putConversation(record: ConversationRecord): Promise<void>;
  getConversation(tenantId: string, conversationId: string): Promise<ConversationRecord | undefined>;
  deleteConversation(tenantId: string, conversationId: string): Promise<boolean>;
  listConversations(tenantId: string, filter?: { subscribed?: boolean; scope?: ConversationScope }): Promise<ConversationRecord[]>;
  findPersonalConversation(tenantId: string, userUpnOrOid: string): Promise<ConversationRecord | undefined>;
}

/** The outbox of bot messages, delivered under leases by the notifier (docs/scale-out.md). */
export interface OutboxRecords {
  /** Adds items whose idempotency key is new; returns how many were added. */
  enqueue(items: NewOutboxItem[]): Promise<number>;
  /** Pending items due at `now`, oldest first. */
  dueOutbox(now: Date, limit: number): Promise<OutboxRecord[]>;
  /**
   * For several instances sharing a store: atomically claims up to `limit` pending items due at
   * `now` (oldest first) for `owner` until `now + leaseMs`. Another instance is not handed a claimed
   * item until its lease has expired (so the work of an instance that died is taken over then);
   * `owner` itself may claim its items again (renewing the lease); markSent / markRetry /
   * markFailed end the lease.
   */
  claimOutbox(now: Date, limit: number, owner: string, leaseMs: number): Promise<OutboxRecord[]>;
  /**
   * markSent / markRetry / markFailed move a pending item on and end its lease. Given the `owner`
   * that claimed it, they act only while the item's lease still names that owner (a lease that ran
   * out counts until another instance claims the item): once another instance has taken it over
   * they change nothing and return false, so the late instance does not overwrite the new holder's
   * progress. Without an owner (an item read with dueOutbox) the item
   * moves whoever holds it. An item already sent or failed is left as it is (false); an unknown id
   * throws NOT_FOUND.
   */
  markSent(id: string, at: Date, owner?: string): Promise<boolean>;
  markRetry(id: string, nextAttemptAt: Date, error: string, owner?: string): Promise<boolean>;
  markFailed(id: string, error: string, owner?: string): Promise<boolean>;
  listOutbox(tenantId: string, status?: OutboxStatus): Promise<OutboxRecord[]>;
}

/** Reach: the reconnect campaign and each person's bot / funnel state. */
export interface ReachRecords {
  getCampaign(tenantId: string): Promise<CampaignRecord | undefined>;
  putCampaign(record: CampaignRecord): Promise<void>;
  /** Tenants whose campaign is running (the scheduler's work list). */
  listRunningCampaigns(): Promise<CampaignRecord[]>;
  getReachUser(tenantId: string, upn: string): Promise<ReachUserRecord | undefined>;
  /** Inserts or replaces (upn lower-cased). */
  putReachUser(record: ReachUserRecord): Promise<void>;
  /** By upn, in pages (cursor = the last upn of the previous page). */
  listReachUsers(tenantId: string, options?: { cursor?: string; limit?: number }): Promise<ReachUserPage>;
}

/** Health-check runs (one running per tenant) and connection state history. */
export interface CheckRecords {
  /**
   * Starts a run over the given connections, unless one is already running for the tenant: then
   * nothing is written and the running one is returned.
   */
  startCheckRun(
    run: CheckRunRecord,
    items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>>,
  ): Promise<{ started: true; run: CheckRunRecord } | { started: false; run: CheckRunRecord }>;
  getCheckRun(tenantId: string, id: string): Promise<CheckRunRecord | undefined>;
  /** The tenant's most recently started run. */
  latestCheckRun(tenantId: string): Promise<CheckRunRecord | undefined>;
  /** Maintenance, across tenants: runs still marked running (to resume after a restart). */
  listRunningCheckRuns(): Promise<CheckRunRecord[]>;
  /** Items of a run not checked yet, in a stable order. */
  pendingCheckItems(tenantId: string, runId: string, limit: number): Promise<CheckItemRecord[]>;
  /**
   * The same items with their connections, from the one after `after` in that order: a run reads a
   * page of work in one query, not one query per connection, and never re-reads what it has
   * already handed out.
   */
  pendingCheckWork(tenantId: string, runId: string, limit: number, after?: CheckItemKey): Promise<PendingCheckWork[]>;
  /**
   * Records one checked connection atomically: writes the connection (when given; with
   * `unchangedSince`, only its check fields and only if it was not changed meanwhile), marks its item
   * done (once: an item already done is left as it was and false is returned), and appends to the
   * history when its state changed.
   */
  completeCheckItem(result: CheckItemResult): Promise<boolean>;
  /**
   * Several checked connections in one transaction, each as completeCheckItem records it (the
   * answers of one `$batch`); returns each item's completeCheckItem result. Nothing is written when
   * one of them is invalid.
   */
  completeCheckItems(results: CheckItemResult[]): Promise<boolean[]>;
  /**
   * Records a connection checked outside a run (the user's own Test, or their consent) atomically:
   * writes it, and appends to its history (without a run) when its state differs from `from`. With
   * `unchangedSince` (the updatedAt it was read with) only its check fields are written, and only
   * while the stored connection still has that updatedAt and the state `from`: one its user changed
   * or removed meanwhile is left as they left it. Returns whether anything was written.
   */
  recordConnectionCheck(connection: ConnectionRecord, from: ConnectionState, unchangedSince?: string): Promise<boolean>;
  /**
   * Removes a connection and, in the same transaction, appends `state → disconnected` at `at` to its
   * history (without a run), made `by` its user (a disconnect, or removing their Exchange
   * connection) or the product (`system`: what a UPN's previous owner left). Returns whether there
   * was one to remove.
   */
  removeConnectionWithHistory(tenantId: string, upn: string, kind: ConnectionKind, at: string, by: ConnectionChangedBy): Promise<boolean>;
  /** Items of a run whose state changed, and counts of the checked ones by their new state. */
  checkRunOutcome(tenantId: string, runId: string): Promise<{ byState: Partial<Record<ConnectionState, number>>; changes: CheckItemRecord[] }>;
  finishCheckRun(tenantId: string, id: string, status: 'done' | 'failed', finishedAt: string): Promise<void>;
  /** A UPN's state changes, newest first: of all its connections, or of one `kind`. */
  connectionHistory(tenantId: string, upn: string, options?: { limit?: number; kind?: ConnectionKind }): Promise<ConnectionHistoryRecord[]>;
}

/** Leases: work that several instances share runs in one of them at a time. */
export interface LeaseRecords {
  /**
   * Takes the named lease for `owner` until `now + ttlMs` if nobody holds it, it has expired, or
   * `owner` holds it already (then it is renewed); returns whether `owner` holds it now. Atomic
   * across processes sharing the store.
   */
  tryLease(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean>;
  /** Gives the lease up if `owner` holds it (a lease taken over by another owner is left alone). */
  releaseLease(name: string, owner: string): Promise<void>;
}

/** The audit log (append only). */
export interface AuditRecords {
  audit(entry: Omit<AuditRecord, 'id' | 'at'> & { at?: string }): Promise<void>;
  listAudit(tenantId: string, options?: { limit?: number; before?: string }): Promise<AuditRecord[]>;
}

/** Every record group: what the stores compose from one repository each. */
export interface RecordGroups
  extends
    TenantRecords,
    UserRecords,
    DomainRecords,
    ServiceAccountRecords,
    ConnectionRecords,
    TokenCacheRecords,
    AuthStateRecords,
    SessionRecords,
    ConversationRecords,
    OutboxRecords,
    ReachRecords,
    CheckRecords,
    LeaseRecords,
    AuditRecords {}

/** The whole store: its lifecycle and every record group. Callers that need less take the groups they use. */
export interface Store extends StoreLifecycle, RecordGroups {}
