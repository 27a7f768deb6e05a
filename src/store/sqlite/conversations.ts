/** Conversation references of the bot, on SQLite. */
import { conversationValues } from '../records';
import { conversationFromRow, type Row } from '../shared/rows';
import type { ConversationRecord, ConversationRecords, ConversationScope } from '../types';
import type { SqliteContext, Db } from './db';

export class SqliteConversations implements ConversationRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async putConversation(r: ConversationRecord): Promise<void> {
    this.#q.upsert.run(conversationValues(r));
  }

  async getConversation(tenantId: string, conversationId: string): Promise<ConversationRecord | undefined> {
    const row = this.#q.get.get(tenantId, conversationId) as Row | undefined;
    return row && conversationFromRow(row);
  }

  async deleteConversation(tenantId: string, conversationId: string): Promise<boolean> {
    return this.#q.delete.run(tenantId, conversationId).changes > 0;
  }

  async listConversations(tenantId: string, filter: { subscribed?: boolean; scope?: ConversationScope } = {}): Promise<ConversationRecord[]> {
    const subscribed = filter.subscribed === undefined ? null : filter.subscribed ? 1 : 0;
    return (this.#q.list.all({ tenantId, subscribed, scope: filter.scope ?? null }) as Row[]).map(conversationFromRow);
  }

  async findPersonalConversation(tenantId: string, userUpnOrOid: string): Promise<ConversationRecord | undefined> {
    const row = this.#q.personal.get(tenantId, userUpnOrOid, userUpnOrOid.toLowerCase()) as Row | undefined;
    return row && conversationFromRow(row);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    upsert: p(`INSERT INTO conversations (tenant_id, conversation_id, scope, user_oid, user_upn, subscribed, reference, updated_at)
        VALUES (@tenantId, @conversationId, @scope, @userOid, @userUpn, @subscribed, @reference, @updatedAt)
        ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET scope = excluded.scope, user_oid = excluded.user_oid, user_upn = excluded.user_upn,
          subscribed = excluded.subscribed, reference = excluded.reference, updated_at = excluded.updated_at`),
    get: p('SELECT * FROM conversations WHERE tenant_id = ? AND conversation_id = ?'),
    delete: p('DELETE FROM conversations WHERE tenant_id = ? AND conversation_id = ?'),
    list: p(`SELECT * FROM conversations WHERE tenant_id = @tenantId
          AND (@subscribed IS NULL OR subscribed = @subscribed) AND (@scope IS NULL OR scope = @scope)
        ORDER BY conversation_id`),
    personal: p(`SELECT * FROM conversations WHERE tenant_id = ? AND scope = 'personal' AND (user_oid = ? OR user_upn = ?)
        ORDER BY updated_at DESC LIMIT 1`),
  };
}
