/** BotServices (the bot's port, ./ports.ts) built from the admin service and the store. */
import { adminStanding, type AdminRuleConfig } from '../domain/admin';
import { isTarget, needsUserAction, nudgeStillDue } from '../domain/reach';
import type { ConnectionRecord, Store } from '../store/types';
import type { AdminService } from './admin';
import type { BotServices } from './ports';

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
    // The campaign's audience (domain/reach isTarget): someone who already works on Graph and only
    // left an EWS record behind is not asked to move again.
    async usersToNudge(tenantId) {
      const byUser = new Map<string, ConnectionRecord[]>();
      for await (const r of deps.admin.allConnections(tenantId.toLowerCase(), {})) {
        const key = r.upn.toLowerCase();
        const theirs = byUser.get(key);
        if (theirs) theirs.push(r);
        else byUser.set(key, [r]);
      }
      return [...byUser.values()].filter(isTarget).flatMap((connections) => connections.filter(needsUserAction));
    },
    async nudgeStillDue(tenantId, upn, kind) {
      return nudgeStillDue(kind, await deps.store.getConnections(tenantId.toLowerCase(), upn));
    },
    permissions: (tenantId) => deps.admin.permissions(tenantId.toLowerCase()),
    tabUrl() {
      return deps.teamsAppId ? `https://teams.microsoft.com/l/entity/${encodeURIComponent(deps.teamsAppId)}/${TAB_ENTITY_ID}` : `${deps.tabEndpoint}/tab/`;
    },
  };
}
