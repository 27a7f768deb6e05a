/** POST /api/messages (Bot Framework) and the server-side services the bot reads. */
import type { Server } from 'restify';
import { adminStanding, type AdminRuleConfig } from '../domain/admin';
import { isLegacyKind } from '../domain/connection';
import type { Logger } from '../log';
import type { AdminService } from '../services/admin';
import type { ConnectionRecord, Store } from '../store/types';
import type { BotServices } from '../../bot/services';
import { AppError } from '../domain/errors';
import { pipeline, rawBody, sendError, step } from './http';

/** The static tab's entity id in appPackage/manifest.json. */
export const TAB_ENTITY_ID = 'connection';

export function createBotServices(deps: {
  store: Store;
  admin: AdminService;
  tabEndpoint: string;
  teamsAppId?: string;
  /** The same rule as the tab's, plus how recent a verified token's proof must be (ADMIN_PROOF_MAX_DAYS). */
  adminRule: AdminRuleConfig & { proofMaxDays: number };
  now: () => Date;
}): BotServices {
  return {
    // By tenant and object id, never by the mutable UPN Teams shows.
    async adminStanding(tenantId, userOid) {
      const user = await deps.store.getUser(tenantId.toLowerCase(), userOid.toLowerCase());
      return adminStanding(user, deps.adminRule, deps.now());
    },
    summary: (tenantId) => deps.admin.summary(tenantId.toLowerCase()),
    async runServiceAccountTest(tenantId, actor) {
      return (await deps.admin.testSaved(tenantId.toLowerCase(), actor)) ?? { notConfigured: true as const };
    },
    async usersToNudge(tenantId) {
      const out: ConnectionRecord[] = [];
      for await (const r of deps.admin.allConnections(tenantId.toLowerCase(), {})) {
        if (isLegacyKind(r.kind) || r.state === 'needs-reconnect') out.push(r);
      }
      return out;
    },
    permissions: (tenantId) => deps.admin.permissions(tenantId.toLowerCase()),
    tabUrl() {
      return deps.teamsAppId ? `https://teams.microsoft.com/l/entity/${encodeURIComponent(deps.teamsAppId)}/${TAB_ENTITY_ID}` : `${deps.tabEndpoint}/tab/`;
    },
  };
}

export function botRoutes(deps: { logger: Logger; bot: { handleMessages(req: import('restify').Request, res: import('restify').Response): Promise<void> } }) {
  return (server: Server) => {
    server.post(
      '/api/messages',
      pipeline(
        deps.logger,
        step('parseActivity', (req, res) => {
          const raw = rawBody(req);
          const type = (req.header('content-type') ?? '').toLowerCase();
          if (!type.startsWith('application/json')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { message: 'Bot Framework activities are application/json.' });
          let activity: unknown;
          try {
            activity = JSON.parse(raw?.toString('utf8') ?? '');
          } catch {
            throw new AppError('VALIDATION_FAILED', { message: 'The activity is not valid JSON.' });
          }
          if (!activity || typeof activity !== 'object' || typeof (activity as { type?: unknown }).type !== 'string') {
            throw new AppError('VALIDATION_FAILED', { message: 'The activity must be an object with a "type".' });
          }
          (req as unknown as { body: unknown }).body = activity;
          void res;
        }),
        step('handleActivity', async (req, res) => {
          try {
            await deps.bot.handleMessages(req, res);
          } catch (err) {
            sendError(res, err, deps.logger);
          }
        }),
      ),
    );
  };
}
