/**
 * Numbered schema migrations of the PostgreSQL store. Append new ones; never edit a released one.
 * They run at start-up under an advisory lock (see postgres/lifecycle.ts), each in its own transaction
 * together with its row in schema_migrations, so instances starting together migrate once.
 *
 * The tables mirror the SQLite store's (migrations.ts) column for column, so both behave alike:
 * - Text that is compared or ordered is `COLLATE "C"`: byte order of UTF-8, which is code point
 *   order, exactly SQLite's BINARY collation, whatever locale the database was created with.
 * - Dates are ISO text (they read back exactly as written); instants compared as numbers are
 *   `*_ms` bigints; JSON stays text (jsonb would reorder keys and refuse \u0000).
 * - Secret columns (`*_box`, `box`) hold Keyring boxes with `key_id` beside them for rotation.
 */
import { latestVersion, type Migration } from './shared/schema';

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE tenants (
        tenant_id TEXT COLLATE "C" PRIMARY KEY,
        display_name TEXT,
        enabled_features TEXT NOT NULL,
        deadline_overrides TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE users (
        tenant_id TEXT COLLATE "C" NOT NULL,
        oid TEXT COLLATE "C" NOT NULL,
        upn TEXT COLLATE "C" NOT NULL,
        display_name TEXT,
        roles TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, oid)
      );

      CREATE TABLE domains (
        tenant_id TEXT COLLATE "C" NOT NULL,
        domain TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant_id, domain)
      );

      CREATE TABLE service_accounts (
        tenant_id TEXT COLLATE "C" PRIMARY KEY,
        tenant TEXT NOT NULL,
        client_id TEXT NOT NULL,
        secret_box TEXT NOT NULL,
        key_id TEXT COLLATE "C" NOT NULL,
        secret_hint TEXT NOT NULL,
        secret_expires_at TEXT,
        test_account TEXT NOT NULL,
        out_of_scope_account TEXT,
        features TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL
      );

      CREATE TABLE service_account_tests (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL,
        record TEXT NOT NULL
      );
      CREATE INDEX service_account_tests_by_tenant ON service_account_tests (tenant_id, seq);

      CREATE TABLE connections (
        tenant_id TEXT COLLATE "C" NOT NULL,
        upn TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        oid TEXT,
        display_name TEXT,
        search_text TEXT COLLATE "C" NOT NULL,
        state TEXT COLLATE "C" NOT NULL,
        granted_scopes TEXT NOT NULL,
        home_account_id TEXT,
        last_checked_at TEXT,
        last_sync_at TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, upn, kind)
      );
      CREATE INDEX connections_by_state ON connections (tenant_id, state, upn, kind);
      CREATE INDEX connections_by_kind ON connections (tenant_id, kind, upn);

      CREATE TABLE token_caches (
        tenant_id TEXT COLLATE "C" NOT NULL,
        partition_key TEXT COLLATE "C" NOT NULL,
        box TEXT NOT NULL,
        key_id TEXT COLLATE "C" NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, partition_key)
      );

      CREATE TABLE auth_states (
        state_hash TEXT COLLATE "C" PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL,
        box TEXT NOT NULL,
        key_id TEXT COLLATE "C" NOT NULL,
        expires_ms BIGINT NOT NULL
      );
      CREATE INDEX auth_states_by_expiry ON auth_states (expires_ms);

      CREATE TABLE sessions (
        id_hash TEXT COLLATE "C" PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL,
        oid TEXT COLLATE "C" NOT NULL,
        box TEXT NOT NULL,
        key_id TEXT COLLATE "C" NOT NULL,
        expires_ms BIGINT NOT NULL
      );
      CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

      CREATE TABLE conversations (
        tenant_id TEXT COLLATE "C" NOT NULL,
        conversation_id TEXT COLLATE "C" NOT NULL,
        scope TEXT COLLATE "C" NOT NULL,
        user_oid TEXT COLLATE "C",
        user_upn TEXT COLLATE "C",
        subscribed BOOLEAN NOT NULL,
        reference TEXT NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant_id, conversation_id)
      );
      CREATE INDEX conversations_by_user_oid ON conversations (tenant_id, user_oid);
      CREATE INDEX conversations_by_user_upn ON conversations (tenant_id, user_upn);

      CREATE TABLE outbox (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        tenant_id TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        idempotency_key TEXT COLLATE "C" NOT NULL,
        conversation_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
      );
      CREATE UNIQUE INDEX outbox_idempotency ON outbox (tenant_id, idempotency_key);
      CREATE INDEX outbox_due ON outbox (status, next_attempt_ms, seq);
      CREATE INDEX outbox_by_tenant ON outbox (tenant_id, status, seq);

      CREATE TABLE audit_log (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        tenant_id TEXT COLLATE "C" NOT NULL,
        at TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        details TEXT
      );
      CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, at_ms, seq);
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    `,
  },
  {
    version: 2,
    name: 'trigram index for connection search',
    // pg_trgm lets `search_text LIKE '%term%'` use an index. It ships with PostgreSQL and is a
    // trusted extension, but a managed server may not allow it: then search scans the tenant's
    // rows in key order (as on SQLite) and everything else stays the same.
    sql: `
      DO $$
      BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX connections_search_trgm ON connections USING gin (search_text gin_trgm_ops);
      EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): connection search runs without its index', SQLERRM;
      END $$;
    `,
  },
  {
    version: 3,
    name: 'outbox leases',
    // Who claimed a pending item and until when (claimOutbox); NULL when nobody holds it.
    sql: 'ALTER TABLE outbox ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until_ms BIGINT;',
  },
  {
    version: 4,
    name: 'users: when admin status was last proven by a verified token',
    // SQLite's migration 2; NULL for users seen before it (no proof until their next verified token).
    sql: 'ALTER TABLE users ADD COLUMN admin_proven_at TEXT;',
  },
  {
    version: 5,
    name: 'reach: reconnect campaigns and per-user bot and funnel state',
    // SQLite's migration 4. The records are JSON; only what is looked up or ordered has a column.
    sql: `
      CREATE TABLE campaigns (
        tenant_id TEXT COLLATE "C" PRIMARY KEY,
        status TEXT COLLATE "C" NOT NULL CHECK (status IN ('idle', 'running', 'paused')),
        record TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX campaigns_by_status ON campaigns (status);

      CREATE TABLE reach_users (
        tenant_id TEXT COLLATE "C" NOT NULL,
        upn TEXT COLLATE "C" NOT NULL,
        oid TEXT,
        record TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, upn)
      );
    `,
  },
  {
    version: 6,
    name: 'health-check runs, per-feature results and connection history',
    // SQLite's migration 5. A run's seq orders the tenant's runs (latestCheckRun); an identity
    // orders them as SQLite's per-tenant counter does, without two starts racing for a number.
    sql: `
      ALTER TABLE connections ADD COLUMN feature_results TEXT;

      CREATE TABLE check_runs (
        id TEXT COLLATE "C" PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL,
        status TEXT COLLATE "C" NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        started_by TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        finished_at TEXT,
        total INTEGER NOT NULL,
        checked INTEGER NOT NULL DEFAULT 0,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX check_runs_latest ON check_runs (tenant_id, seq);
      -- One running run per tenant, enforced where two starts can race (also across instances).
      CREATE UNIQUE INDEX check_runs_one_running ON check_runs (tenant_id) WHERE status = 'running';

      CREATE TABLE check_items (
        tenant_id TEXT COLLATE "C" NOT NULL,
        run_id TEXT COLLATE "C" NOT NULL REFERENCES check_runs (id) ON DELETE CASCADE,
        upn TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        done BOOLEAN NOT NULL DEFAULT false,
        from_state TEXT COLLATE "C",
        to_state TEXT COLLATE "C",
        code TEXT,
        PRIMARY KEY (run_id, upn, kind)
      );
      CREATE INDEX check_items_pending ON check_items (run_id, done, upn, kind);

      CREATE TABLE connection_history (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL,
        upn TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        code TEXT,
        at TEXT NOT NULL,
        run_id TEXT
      );
      CREATE INDEX connection_history_by_user ON connection_history (tenant_id, upn, seq);
    `,
  },
  {
    version: 7,
    name: 'leases for work that several instances share',
    // SQLite's migration 6: who runs a named piece of shared work and until when.
    sql: 'CREATE TABLE leases (name TEXT COLLATE "C" PRIMARY KEY, owner TEXT COLLATE "C" NOT NULL, until_ms BIGINT NOT NULL);',
  },
  {
    version: 8,
    name: 'change notifications for other instances',
    // PostgreSQL only (SQLite's data_version does this for one file): every statement that changed
    // rows sends NOTIFY cc_changes (delivered at commit, once per table and transaction), so each
    // instance's change stamp moves when another instance writes (postgres-changes.ts). Statement
    // triggers with a transition table: a statement that changed nothing (an outbox poll claiming
    // no item) stays silent. A table added later needs these four triggers too.
    sql: `
      CREATE FUNCTION cc_notify_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM changed) THEN
          PERFORM pg_notify('cc_changes', TG_TABLE_NAME);
        END IF;
        RETURN NULL;
      END $$;

      CREATE FUNCTION cc_notify_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('cc_changes', TG_TABLE_NAME);
        RETURN NULL;
      END $$;

      DO $$
      DECLARE t text;
      BEGIN
        FOREACH t IN ARRAY ARRAY['tenants', 'users', 'domains', 'service_accounts', 'service_account_tests', 'connections',
          'token_caches', 'auth_states', 'sessions', 'conversations', 'outbox', 'audit_log', 'campaigns', 'reach_users',
          'check_runs', 'check_items', 'connection_history', 'leases'] LOOP
          EXECUTE format('CREATE TRIGGER cc_changed_ins AFTER INSERT ON %I REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION cc_notify_rows()', t);
          EXECUTE format('CREATE TRIGGER cc_changed_upd AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION cc_notify_rows()', t);
          EXECUTE format('CREATE TRIGGER cc_changed_del AFTER DELETE ON %I REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION cc_notify_rows()', t);
          EXECUTE format('CREATE TRIGGER cc_changed_trunc AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION cc_notify_truncate()', t);
        END LOOP;
      END $$;
    `,
  },
  {
    version: 9,
    name: 'who made a change of connection that no check saw',
    // SQLite's migration 7.
    sql: `ALTER TABLE connection_history ADD COLUMN changed_by TEXT CHECK (changed_by IN ('user', 'system'));`,
  },
];

export const PG_LATEST_SCHEMA_VERSION = latestVersion(PG_MIGRATIONS);
