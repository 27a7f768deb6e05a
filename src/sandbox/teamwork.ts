/**
 * Microsoft Teams as Graph shows it, for proactive installation: the organisation's app catalog
 * (`/appCatalogs/teamsApps`) and each user's installed apps (`/users/{id}/teamwork/installedApps`,
 * `…/{installationId}/chat`). Installing the bot for a user makes the stand-in Teams connector
 * (teams-connector.ts) send the bot the conversationUpdate Teams would send; removing it sends the
 * installationUpdate + conversationUpdate of a removal.
 *
 * What the real service answers, and the sandbox too: an installation that exists → 409 Conflict;
 * the app blocked for the user by the tenant's app permission policy → 403; an app token without
 * one of the TeamsAppInstallation roles → 403 "Missing role permissions"; a user without a Teams
 * licence → 404.
 */
import { createHash } from 'node:crypto';
import type { GraphExtension, GraphResponse } from './graph';
import type { TenantState, UserState } from './state';

/** The Connection Center app as published to each sandbox tenant's catalog (fixed ids). */
export const SANDBOX_TEAMS_APP = {
  /** The manifest id (`id` in manifest.json): Graph's `externalId`. */
  externalId: 'c0ffee00-5a4d-4b0c-9c3c-000000000001',
  displayName: 'Connection Center',
};

/** Application permissions that allow installing an app for a user (any one). */
const INSTALL_ROLES = [
  'TeamsAppInstallation.ReadWriteSelfForUser.All',
  'TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All',
  'TeamsAppInstallation.ReadWriteForUser.All',
  'TeamsAppInstallation.ReadWriteAndConsentForUser.All',
];
const READ_INSTALL_ROLES = [...INSTALL_ROLES, 'TeamsAppInstallation.ReadForUser.All'];
const CATALOG_ROLES = ['AppCatalog.Read.All', 'AppCatalog.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];

export interface Installation {
  id: string;
  tenantId: string;
  userOid: string;
  catalogAppId: string;
  chatId: string;
  installedAt: string;
}

/** What the connector stand-in does when an installation comes or goes. */
export interface InstallListener {
  installed(inst: Installation, user: UserState): Promise<void>;
  removed(inst: Installation, user: UserState): Promise<void>;
}

export class TeamsState {
  readonly installations = new Map<string, Installation>();
  /** `${tenantId}|${oid}` of users for whom the app permission policy blocks the app. */
  readonly blocked = new Set<string>();
  /** `${tenantId}|${oid}` of users without a Teams licence. */
  readonly unlicensed = new Set<string>();
  listener?: InstallListener;

  /** The catalog id differs per tenant (as in Teams) and is not the manifest id. */
  catalogAppId(tenantId: string): string {
    return stableGuid('catalog', tenantId, SANDBOX_TEAMS_APP.externalId);
  }

  key(tenantId: string, oid: string): string {
    return `${tenantId}|${oid}`;
  }

  installationOf(tenantId: string, oid: string): Installation | undefined {
    return this.installations.get(this.key(tenantId, oid));
  }

  install(tenant: TenantState, user: UserState, now: number): Installation {
    const inst: Installation = {
      id: Buffer.from(`${user.oid}##${this.catalogAppId(tenant.id)}`).toString('base64url'),
      tenantId: tenant.id,
      userOid: user.oid,
      catalogAppId: this.catalogAppId(tenant.id),
      // Personal chats with a bot look like this in Teams.
      chatId: `19:${user.oid}_${stableGuid('bot', tenant.id)}@unq.gbl.spaces`,
      installedAt: new Date(now).toISOString(),
    };
    this.installations.set(this.key(tenant.id, user.oid), inst);
    return inst;
  }

  remove(tenantId: string, oid: string): Installation | undefined {
    const inst = this.installations.get(this.key(tenantId, oid));
    this.installations.delete(this.key(tenantId, oid));
    return inst;
  }

  reset(): void {
    this.installations.clear();
    this.blocked.clear();
    this.unlicensed.clear();
  }
}

function stableGuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function has(granted: readonly string[], accepted: readonly string[]): boolean {
  const set = new Set(granted.map((g) => g.toLowerCase()));
  return accepted.some((a) => set.has(a.toLowerCase()));
}

/** `$filter=teamsApp/externalId eq '<id>'` or `externalId eq '<id>'`; anything else is not supported here. */
function externalIdFilter(filter: string | null, prefix: string): string | undefined | null {
  if (!filter) return undefined;
  const m = new RegExp(`^\\s*${prefix.replace('/', '\\/')}externalId\\s+eq\\s+'([^']*)'\\s*$`, 'i').exec(filter);
  return m ? m[1] : null;
}

/** The Graph routes above, as an extension of the sandbox's Graph (see graph.ts). */
export function teamworkRoutes(teams: TeamsState): GraphExtension {
  return async (ctx, principal, call, reply) => {
    const s = call.segments.map((x) => x.toLowerCase());
    if (s[0] === 'appcatalogs' && s[1] === 'teamsapps' && s.length === 2) {
      if (call.method !== 'GET') return reply.error(405, 'BadRequest', `The HTTP method '${call.method}' is not supported for this resource.`);
      if (!has(principal.permissions, principal.kind === 'application' ? CATALOG_ROLES : ['AppCatalog.Read.All', 'AppCatalog.Submit', ...CATALOG_ROLES]))
        return missingRoles(reply, CATALOG_ROLES, principal.permissions);
      const wanted = externalIdFilter(call.query.get('$filter'), '');
      if (wanted === null) return reply.error(400, 'BadRequest', "Only $filter=externalId eq '…' is supported by the sandbox.");
      const app = {
        id: teams.catalogAppId(principal.tenant.id),
        externalId: SANDBOX_TEAMS_APP.externalId,
        displayName: SANDBOX_TEAMS_APP.displayName,
        distributionMethod: 'organization',
      };
      const value = wanted === undefined || wanted.toLowerCase() === app.externalId ? [app] : [];
      return reply.ok(200, { '@odata.context': `${ctx.graphEndpoint}/v1.0/$metadata#appCatalogs/teamsApps`, value });
    }
    if (s[0] !== 'users' || s[2] !== 'teamwork' || s[3] !== 'installedapps') return undefined;
    if (principal.kind !== 'application') return reply.error(403, 'Forbidden', 'The sandbox serves teamwork/installedApps to application tokens only.');
    const writing = call.method !== 'GET';
    if (!has(principal.permissions, writing ? INSTALL_ROLES : READ_INSTALL_ROLES))
      return missingRoles(reply, writing ? INSTALL_ROLES : READ_INSTALL_ROLES, principal.permissions);
    const user = ctx.world.findUser(principal.tenant, decodeURIComponent(call.segments[1] ?? ''));
    if (!user) return reply.error(404, 'NotFound', `User '${call.segments[1]}' was not found.`);
    const k = teams.key(principal.tenant.id, user.oid);
    if (teams.unlicensed.has(k)) return reply.error(404, 'NotFound', `The user '${user.oid}' has no Microsoft Teams license.`);
    const inst = teams.installationOf(principal.tenant.id, user.oid);
    const json = (i: Installation) => ({
      id: i.id,
      ...(call.query.get('$expand')?.toLowerCase().includes('teamsapp')
        ? {
            teamsApp: {
              id: i.catalogAppId,
              externalId: SANDBOX_TEAMS_APP.externalId,
              displayName: SANDBOX_TEAMS_APP.displayName,
              distributionMethod: 'organization',
            },
          }
        : {}),
    });

    // /users/{id}/teamwork/installedApps
    if (s.length === 4) {
      if (call.method === 'GET') {
        const wanted = externalIdFilter(call.query.get('$filter'), 'teamsApp/');
        if (wanted === null) return reply.error(400, 'BadRequest', "Only $filter=teamsApp/externalId eq '…' is supported by the sandbox.");
        const list = inst && (wanted === undefined || wanted.toLowerCase() === SANDBOX_TEAMS_APP.externalId) ? [json(inst)] : [];
        return reply.ok(200, { '@odata.context': `${ctx.graphEndpoint}/v1.0/$metadata#users('${user.oid}')/teamwork/installedApps`, value: list });
      }
      if (call.method !== 'POST') return reply.error(405, 'BadRequest', `The HTTP method '${call.method}' is not supported for this resource.`);
      const bind = (call.body as Record<string, unknown> | undefined)?.['teamsApp@odata.bind'];
      const id = typeof bind === 'string' ? /\/appCatalogs\/teamsApps\/([^/?#]+)$/i.exec(bind)?.[1] : undefined;
      if (!id) return reply.error(400, 'BadRequest', "Expected 'teamsApp@odata.bind' naming /appCatalogs/teamsApps/{id}.");
      if (decodeURIComponent(id) !== teams.catalogAppId(principal.tenant.id))
        return reply.error(404, 'NotFound', `The app '${id}' is not in this tenant's app catalog.`);
      if (teams.blocked.has(k))
        return reply.error(403, 'Forbidden', "The app is blocked for this user by the tenant's Teams app permission policy.", 'AppBlockedByPolicy');
      if (inst) return reply.error(409, 'Conflict', 'The app is already installed for this user.');
      const created = teams.install(principal.tenant, user, ctx.world.now());
      // Teams tells the bot about the new chat; the sandbox does so before answering, which keeps
      // runs reproducible (the real service does it shortly after).
      await teams.listener
        ?.installed(created, user)
        .catch((err: unknown) => ctx.logger.warn({ err: String(err) }, 'sandbox teams: conversationUpdate not delivered'));
      return reply.ok(201, undefined);
    }
    if (!inst || decodeURIComponent(call.segments[4] ?? '') !== inst.id) return reply.error(404, 'NotFound', 'No such installation for this user.');
    // /users/{id}/teamwork/installedApps/{installationId}[/chat]
    if (s.length === 5) {
      if (call.method === 'GET') return reply.ok(200, json(inst));
      if (call.method !== 'DELETE') return reply.error(405, 'BadRequest', `The HTTP method '${call.method}' is not supported for this resource.`);
      teams.remove(principal.tenant.id, user.oid);
      await teams.listener?.removed(inst, user).catch(() => undefined);
      return reply.ok(204, undefined);
    }
    if (s.length === 6 && s[5] === 'chat' && call.method === 'GET') {
      return reply.ok(200, {
        '@odata.context': `${ctx.graphEndpoint}/v1.0/$metadata#chats/$entity`,
        id: inst.chatId,
        chatType: 'oneOnOne',
        tenantId: inst.tenantId,
      });
    }
    return reply.error(400, 'BadRequest', `Resource not found for the segment '${call.segments[call.segments.length - 1]}'.`);
  };
}

function missingRoles(reply: Parameters<GraphExtension>[3], accepted: readonly string[], granted: readonly string[]): GraphResponse {
  return reply.error(
    403,
    'Forbidden',
    `Missing role permissions on the request. API requires one of '${accepted.join(', ')}'. Roles on the request '${granted.join(', ')}'.`,
  );
}
