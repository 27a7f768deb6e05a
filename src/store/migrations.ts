/**
 * Numbered schema migrations of the SQLite store. Append new ones; never edit a released one.
 * Each runs in its own transaction together with its row in schema_migrations.
 * Secret columns (`*_box`, `box`) hold Keyring boxes; `key_id` beside them says which key sealed
 * them, so rotation can find the records still under an old key.
 */
import { latestVersion, type Migration } from './shared/schema';

export type { Migration } from './shared/schema';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE tenants (
        tenant_id TEXT PRIMARY KEY,
        display_name TEXT,
        enabled_features TEXT NOT NULL,
        deadline_overrides TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE users (
        tenant_id TEXT NOT NULL,
        oid TEXT NOT NULL,
        upn TEXT NOT NULL,
        display_name TEXT,
        roles TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, oid)
      ) STRICT;

      CREATE TABLE domains (
        tenant_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        PRIMARY KEY (tenant_id, domain)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE service_accounts (
        tenant_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        client_id TEXT NOT NULL,
        secret_box TEXT NOT NULL,
        key_id TEXT NOT NULL,
        secret_hint TEXT NOT NULL,
        secret_expires_at TEXT,
        test_account TEXT NOT NULL,
        out_of_scope_account TEXT,
        features TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL
      ) STRICT;

      CREATE TABLE service_account_tests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        record TEXT NOT NULL
      ) STRICT;
      CREATE INDEX service_account_tests_by_tenant ON service_account_tests (tenant_id, seq);

      CREATE TABLE connections (
        tenant_id TEXT NOT NULL,
        upn TEXT NOT NULL,
        kind TEXT NOT NULL,
        oid TEXT,
        display_name TEXT,
        search_text TEXT NOT NULL,
        state TEXT NOT NULL,
        granted_scopes TEXT NOT NULL,
        home_account_id TEXT,
        last_checked_at TEXT,
        last_sync_at TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, upn, kind)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX connections_by_state ON connections (tenant_id, state, upn, kind);
      CREATE INDEX connections_by_kind ON connections (tenant_id, kind, upn);

      CREATE TABLE token_caches (
        tenant_id TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        box TEXT NOT NULL,
        key_id TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, partition_key)
      ) STRICT;

      -- Keyed by a hash of the state / session id: a copy of the file does not yield live values.
      CREATE TABLE auth_states (
        state_hash TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        box TEXT NOT NULL,
        key_id TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX auth_states_by_expiry ON auth_states (expires_ms);

      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        oid TEXT NOT NULL,
        box TEXT NOT NULL,
        key_id TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

      CREATE TABLE conversations (
        tenant_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        user_oid TEXT,
        user_upn TEXT,
        subscribed INTEGER NOT NULL,
        reference TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, conversation_id)
      ) STRICT;
      CREATE INDEX conversations_by_user_oid ON conversations (tenant_id, user_oid);
      CREATE INDEX conversations_by_user_upn ON conversations (tenant_id, user_upn);

      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
      ) STRICT;
      CREATE UNIQUE INDEX outbox_idempotency ON outbox (tenant_id, idempotency_key);
      CREATE INDEX outbox_due ON outbox (status, next_attempt_ms, seq);
      CREATE INDEX outbox_by_tenant ON outbox (tenant_id, status, seq);

      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        at TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        details TEXT
      ) STRICT;
      CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, at_ms, seq);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 2,
    name: 'users: when admin status was last proven by a verified token',
    sql: `
      ALTER TABLE users ADD COLUMN admin_proven_at TEXT;
    `,
  },
  {
    version: 3,
    name: 'outbox leases',
    // Who claimed a pending item and until when (claimOutbox); NULL when nobody holds it.
    sql: `
      ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
      ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER;
    `,
  },
  {
    version: 4,
    name: 'reach: reconnect campaigns and per-user bot and funnel state',
    sql: `
      CREATE TABLE campaigns (
        tenant_id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('idle', 'running', 'paused')),
        record TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX campaigns_by_status ON campaigns (status);

      CREATE TABLE reach_users (
        tenant_id TEXT NOT NULL,
        upn TEXT NOT NULL,
        oid TEXT,
        record TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, upn)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: 'health-check runs, per-feature results and connection history',
    sql: `
      ALTER TABLE connections ADD COLUMN feature_results TEXT;

      CREATE TABLE check_runs (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        started_by TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        finished_at TEXT,
        total INTEGER NOT NULL,
        checked INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX check_runs_latest ON check_runs (tenant_id, seq);
      -- One running run per tenant, enforced where two starts can race.
      CREATE UNIQUE INDEX check_runs_one_running ON check_runs (tenant_id) WHERE status = 'running';

      CREATE TABLE check_items (
        tenant_id TEXT NOT NULL,
        run_id TEXT NOT NULL REFERENCES check_runs (id) ON DELETE CASCADE,
        upn TEXT NOT NULL,
        kind TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        from_state TEXT,
        to_state TEXT,
        code TEXT,
        PRIMARY KEY (run_id, upn, kind)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX check_items_pending ON check_items (run_id, done, upn, kind);

      CREATE TABLE connection_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        upn TEXT NOT NULL,
        kind TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        code TEXT,
        at TEXT NOT NULL,
        run_id TEXT
      ) STRICT;
      CREATE INDEX connection_history_by_user ON connection_history (tenant_id, upn, seq);
    `,
  },
  {
    version: 6,
    name: 'leases for work that several instances share',
    // Who runs a named piece of shared work (a tenant's health checks, the daily jobs) and until when.
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until_ms INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    name: 'who made a change of connection that no check saw',
    // Set on a removal: 'user' (a disconnect), 'system' (what a UPN's previous owner left, removed
    // when someone new signs in with it). NULL otherwise: a run's change (run_id set) or the user's
    // Test or reconnect, as before.
    sql: `ALTER TABLE connection_history ADD COLUMN changed_by TEXT CHECK (changed_by IN ('user', 'system'));`,
  },
];

export const LATEST_SCHEMA_VERSION = latestVersion(MIGRATIONS);
