/**
 * Row → record, once for both stores. A field reads the column of its snake_case name unless told
 * otherwise; a null column is left out, so optional fields read back absent as they were written.
 * What the drivers hand back differently is read here too: SQLite keeps flags as 0/1 and
 * PostgreSQL as booleans; pg returns bigint columns as text.
 */
import type { Keyring } from '../crypto';
import { CONNECTION_FIELDS, columnOf, saAad } from '../records';
import type {
  AuditRecord,
  CheckItemRecord,
  CheckRunRecord,
  ConnectionHistoryRecord,
  ConnectionRecord,
  ConversationRecord,
  OutboxRecord,
  PendingCheckWork,
  ServiceAccountRecord,
  TenantRecord,
  UserRecord,
} from '../types';

export type Row = Record<string, unknown>;

/** How a column reads back: parsed JSON text, a flag, or milliseconds as an ISO time. */
type Read = 'json' | 'flag' | 'ms-as-iso';

const READ: Record<Read, (value: unknown) => unknown> = {
  json: (v) => (v === '' ? null : JSON.parse(String(v))),
  flag: (v) => v === true || v === 1 || v === '1',
  'ms-as-iso': (v) => new Date(Number(v)).toISOString(),
};

/** A row reader for the record's fields: `how` names a field's column when it is not its snake_case name, and how to read it. */
function reader<T>(fields: ReadonlyArray<keyof T & string>, how: { [K in keyof T]?: Read | { column: string; read?: Read } } = {}): (row: Row) => T {
  const plan = fields.map((field) => {
    const h = how[field] as Read | { column: string; read?: Read } | undefined;
    const column = typeof h === 'object' ? h.column : columnOf(field);
    const read = typeof h === 'object' ? h.read : h;
    return { field, column, read: read && READ[read] };
  });
  return (row) => {
    const record: Record<string, unknown> = {};
    // Absent fields are never set (rather than set and deleted): deleting turns the object into a slow dictionary.
    for (const { field, column, read } of plan) {
      const value = row[column];
      if (value === null || value === undefined) continue;
      const parsed = read ? read(value) : value;
      if (parsed !== null && parsed !== undefined) record[field] = parsed;
    }
    return record as T;
  };
}

export const tenantFromRow = reader<TenantRecord>(['tenantId', 'displayName', 'enabledFeatures', 'deadlineOverrides', 'createdAt', 'updatedAt'], {
  enabledFeatures: 'json',
  deadlineOverrides: 'json',
});

export const userFromRow = reader<UserRecord>(['tenantId', 'oid', 'upn', 'displayName', 'roles', 'lastSeenAt', 'adminProvenAt'], { roles: 'json' });

const serviceAccountFields = reader<Omit<ServiceAccountRecord, 'clientSecret'>>(
  ['tenantId', 'tenant', 'clientId', 'secretHint', 'secretExpiresAt', 'testAccount', 'outOfScopeAccount', 'features', 'updatedAt', 'updatedBy'],
  { features: 'json' },
);

/** The service account with its secret unsealed (bound to its tenant). */
export function serviceAccountFromRow(row: Row, keyring: Keyring): ServiceAccountRecord {
  const record = serviceAccountFields(row);
  return { ...record, clientSecret: keyring.decrypt(String(row.secret_box), saAad(record.tenantId)) };
}

export const connectionFromRow = reader<ConnectionRecord>(CONNECTION_FIELDS, { grantedScopes: 'json', error: 'json', featureResults: 'json' });

export const checkRunFromRow = reader<CheckRunRecord>(['id', 'tenantId', 'status', 'startedBy', 'startedAt', 'finishedAt', 'total', 'checked']);

export const checkItemFromRow = reader<CheckItemRecord>(['upn', 'kind', 'done', 'from', 'to', 'code'], {
  done: 'flag',
  from: { column: 'from_state' },
  to: { column: 'to_state' },
});

/** A pending item joined with its connection (`item_upn`, `item_kind`, then the connection's columns, null when it is gone). */
export function pendingWorkFromRow(row: Row): PendingCheckWork {
  const item: CheckItemRecord = { upn: String(row.item_upn), kind: row.item_kind as CheckItemRecord['kind'], done: false };
  return row.tenant_id === null || row.tenant_id === undefined ? { item } : { item, connection: connectionFromRow(row) };
}

export const historyFromRow = reader<ConnectionHistoryRecord>(['tenantId', 'upn', 'kind', 'from', 'to', 'code', 'at', 'runId', 'changedBy'], {
  from: { column: 'from_state' },
  to: { column: 'to_state' },
});

export const conversationFromRow = reader<ConversationRecord>(
  ['tenantId', 'conversationId', 'scope', 'userOid', 'userUpn', 'subscribed', 'reference', 'updatedAt'],
  {
    subscribed: 'flag',
    reference: 'json',
  },
);

export const outboxFromRow = reader<OutboxRecord>(
  ['id', 'tenantId', 'kind', 'idempotencyKey', 'conversationId', 'payload', 'status', 'attempts', 'nextAttemptAt', 'lastError', 'createdAt', 'sentAt'],
  { payload: 'json', nextAttemptAt: { column: 'next_attempt_ms', read: 'ms-as-iso' } },
);

export const auditFromRow = reader<AuditRecord>(['id', 'tenantId', 'at', 'actor', 'action', 'target', 'details'], { details: 'json' });

/** Records kept whole as JSON text (campaigns, reach users, service account tests). */
export function recordFromRow<T>(row: Row): T {
  return JSON.parse(String(row.record)) as T;
}

/** Rows a statement returned in no particular order, back in their insertion (`seq`) order. */
export function bySeq<R extends Row>(rows: R[]): R[] {
  return rows.sort((a, b) => Number(a.seq) - Number(b.seq));
}
