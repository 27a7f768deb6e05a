/**
 * What the bot needs from the rest of the product. The server implements it (src/api/routes-bot.ts);
 * the bot never imports src/api or src/graph, so Teams specifics stay in bot/ and a move to another bot SDK touches one folder.
 */
import type { PermissionsResponse, ServiceAccountTestResponse, SummaryResponse } from '../src/api/contract';
import type { AdminStanding } from '../src/domain/admin';
import type { ConnectionRecord } from '../src/store/types';

export interface BotServices {
  /**
   * Whether this Entra user (tenant id + object id) may run admin commands and receive admin cards:
   * `admin`; `unproven` when no verified token proved it within ADMIN_PROOF_MAX_DAYS (they must
   * open the tab once); `none`.
   */
  adminStanding(tenantId: string, userOid: string): Promise<AdminStanding>;
  summary(tenantId: string): Promise<SummaryResponse>;
  /**
   * Runs the test of the saved service account and stores it. The server also calls
   * `bot.emitTestOutcome` for every stored test, so the bot does not do it again; it does so before
   * this promise settles, which is how the alert knows to skip the conversation that asked.
   */
  runServiceAccountTest(tenantId: string, actor: string): Promise<ServiceAccountTestResponse | { notConfigured: true }>;
  /** Users on ews-basic or needing to reconnect (the `remind` audience). */
  usersToNudge(tenantId: string): Promise<ConnectionRecord[]>;
  permissions(tenantId: string): Promise<PermissionsResponse>;
  /** Deep link to the personal tab (the "Reconnect" button). */
  tabUrl(): string;
}
