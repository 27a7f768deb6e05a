/** Conversation references of the bot, on PostgreSQL. */
import { conversationValues } from '../records';
import { conversationFromRow, type Row } from '../shared/rows';
import type { ConversationRecord, ConversationRecords, ConversationScope } from '../types';
import { changed, named, type PgContext } from './db';

export class PgConversations implements ConversationRecords {
  constructor(private readonly c: PgContext) {}

  async putConversation(r: ConversationRecord): Promise<void> {
    // `subscribed` arrives as 0/1, which PostgreSQL reads as a boolean for the boolean column.
    await named(
      this.c.pool,
      `INSERT INTO conversations (tenant_id, conversation_id, scope, user_oid, user_upn, subscribed, reference, updated_at)
       VALUES (@tenantId, @conversationId, @scope, @userOid, @userUpn, @subscribed, @reference, @updatedAt)
       ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET scope = excluded.scope, user_oid = excluded.user_oid, user_upn = excluded.user_upn,
         subscribed = excluded.subscribed, reference = excluded.reference, updated_at = excluded.updated_at`,
      conversationValues(r),
    );
  }

  async getConversation(tenantId: string, conversationId: string): Promise<ConversationRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT * FROM conversations WHERE tenant_id = $1 AND conversation_id = $2', [tenantId, conversationId]);
    return rows[0] && conversationFromRow(rows[0] as Row);
  }

  async deleteConversation(tenantId: string, conversationId: string): Promise<boolean> {
    return changed(await this.c.pool.query('DELETE FROM conversations WHERE tenant_id = $1 AND conversation_id = $2', [tenantId, conversationId]));
  }

  async listConversations(tenantId: string, filter: { subscribed?: boolean; scope?: ConversationScope } = {}): Promise<ConversationRecord[]> {
    const { rows } = await this.c.pool.query(
      `SELECT * FROM conversations WHERE tenant_id = $1
         AND ($2::boolean IS NULL OR subscribed = $2) AND ($3::text IS NULL OR scope = $3)
       ORDER BY conversation_id`,
      [tenantId, filter.subscribed ?? null, filter.scope ?? null],
    );
    return rows.map(conversationFromRow);
  }

  async findPersonalConversation(tenantId: string, userUpnOrOid: string): Promise<ConversationRecord | undefined> {
    const { rows } = await this.c.pool.query(
      `SELECT * FROM conversations WHERE tenant_id = $1 AND scope = 'personal' AND (user_oid = $2 OR user_upn = $3)
       ORDER BY updated_at DESC LIMIT 1`,
      [tenantId, userUpnOrOid, userUpnOrOid.toLowerCase()],
    );
    return rows[0] && conversationFromRow(rows[0] as Row);
  }
}
