/**
 * Proactive installation of the product's Teams app for a user: the
 * product's own Entra app, by client credentials in the user's tenant, with the application
 * permission TeamsAppInstallation.ReadWriteSelfForUser.All.
 *
 *   GET  /users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/externalId eq '<manifest id>'
 *   POST /users/{id}/teamwork/installedApps  { "teamsApp@odata.bind": ".../appCatalogs/teamsApps/{catalog id}" }
 *
 * The catalog id is not the manifest id: it is learnt from an installation that exists (anyone who
 * has the app) or, with AppCatalog.Read.All, from the catalog. Teams then sends the bot a
 * conversationUpdate with the personal chat; the bot stores that conversation.
 */
import { AppError } from '../domain/errors';
import { canReadCatalog, type InstallOutcome, type UnreachableReason } from '../domain/reach';
import { acquireAppToken, type AppToken } from '../identity/service-account';

export interface TeamsInstallerOptions {
  authorityHost: string;
  graphEndpoint: string;
  knownAuthorities?: string[];
  /** The product's own Entra app (AAD_APP_CLIENT_ID; the sandbox's product app in sandbox mode). */
  clientId: string;
  clientSecret: string;
  /** The Teams app's manifest id (TEAMS_APP_ID). */
  teamsAppId: string;
  timeoutMs?: number;
}

class GraphCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_MARGIN_MS = 5 * 60_000;

/** Implements the campaign's TeamsInstallerPort (src/services/campaign.ts). */
export class TeamsInstaller {
  readonly #tokens = new Map<string, Promise<AppToken>>();
  readonly #catalogIds = new Map<string, string>();

  constructor(private readonly opts: TeamsInstallerOptions) {}

  async #token(tenantId: string, fresh = false): Promise<AppToken> {
    const cached = fresh ? undefined : this.#tokens.get(tenantId);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && (!token.expiresOn || token.expiresOn.getTime() - Date.now() > TOKEN_MARGIN_MS)) return token;
      this.#tokens.delete(tenantId);
    }
    const pending = acquireAppToken({
      authorityHost: this.opts.authorityHost,
      tenant: tenantId,
      clientId: this.opts.clientId,
      clientSecret: this.opts.clientSecret,
      knownAuthorities: this.opts.knownAuthorities,
      httpTimeoutMs: this.opts.timeoutMs,
    });
    this.#tokens.set(tenantId, pending);
    pending.catch(() => this.#tokens.delete(tenantId));
    return pending;
  }

  async #graph(tenantId: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const token = await this.#token(tenantId);
    let res: Response;
    try {
      res = await fetch(`${this.opts.graphEndpoint}/v1.0${path}`, {
        method,
        headers: { authorization: `Bearer ${token.accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
      });
    } catch (err) {
      throw new AppError('GRAPH_UNAVAILABLE', { detail: { reason: err instanceof Error ? err.name : 'fetch failed' } });
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      /* an empty or non-JSON body: the status says enough */
    }
    if (res.status >= 400) {
      const e = (json.error ?? {}) as { code?: unknown; message?: unknown };
      throw new GraphCallError(res.status, typeof e.code === 'string' ? e.code : '', typeof e.message === 'string' ? e.message : '');
    }
    return { status: res.status, json };
  }

  /** `fresh`: a new token, so a permission granted (or revoked) a moment ago shows. */
  async roles(tenantId: string, fresh = false): Promise<string[]> {
    try {
      return (await this.#token(tenantId, fresh)).roles;
    } catch (err) {
      // No token in that tenant (app not consented there, unknown tenant): it holds no roles.
      if (err instanceof AppError && err.code !== 'GRAPH_UNAVAILABLE') return [];
      throw err;
    }
  }

  async installation(tenantId: string, user: string): Promise<{ installed: boolean; catalogAppId?: string }> {
    const filter = encodeURIComponent(`teamsApp/externalId eq '${this.opts.teamsAppId.replace(/'/g, "''")}'`);
    const { json } = await this.#graph(tenantId, 'GET', `/users/${encodeURIComponent(user)}/teamwork/installedApps?$expand=teamsApp&$filter=${filter}`);
    const first = (Array.isArray(json.value) ? json.value : [])[0] as { teamsApp?: { id?: unknown } } | undefined;
    if (!first) return { installed: false };
    const catalogAppId = typeof first.teamsApp?.id === 'string' ? first.teamsApp.id : undefined;
    if (catalogAppId) this.#catalogIds.set(tenantId, catalogAppId);
    return { installed: true, ...(catalogAppId ? { catalogAppId } : {}) };
  }

  async catalogAppId(tenantId: string, usersWithApp: readonly string[]): Promise<string | undefined> {
    const known = this.#catalogIds.get(tenantId);
    if (known) return known;
    for (const user of usersWithApp.slice(0, 5)) {
      const found = await this.installation(tenantId, user).catch(() => undefined);
      if (found?.catalogAppId) return found.catalogAppId;
    }
    if (!canReadCatalog(await this.roles(tenantId))) return undefined;
    const filter = encodeURIComponent(`externalId eq '${this.opts.teamsAppId.replace(/'/g, "''")}'`);
    const { json } = await this.#graph(tenantId, 'GET', `/appCatalogs/teamsApps?$filter=${filter}`);
    const app = (Array.isArray(json.value) ? json.value : [])[0] as { id?: unknown } | undefined;
    if (typeof app?.id !== 'string') return undefined;
    this.#catalogIds.set(tenantId, app.id);
    return app.id;
  }

  async install(tenantId: string, user: string, catalogAppId: string): Promise<InstallOutcome> {
    try {
      await this.#graph(tenantId, 'POST', `/users/${encodeURIComponent(user)}/teamwork/installedApps`, {
        'teamsApp@odata.bind': `${this.opts.graphEndpoint}/v1.0/appCatalogs/teamsApps/${encodeURIComponent(catalogAppId)}`,
      });
      return { result: 'installed' };
    } catch (err) {
      if (err instanceof GraphCallError) {
        if (err.status === 409) return { result: 'already-installed' };
        const reason = reasonOf(err);
        if (reason) return { result: 'unreachable', reason };
      }
      if (err instanceof AppError && err.code !== 'GRAPH_UNAVAILABLE') return { result: 'unreachable', reason: 'permission-not-granted' };
      return { result: 'unreachable', reason: 'install-failed' };
    }
  }
}

/** Graph's answer to an installation, as a reason a person can act on (undefined: transient). */
function reasonOf(err: GraphCallError): UnreachableReason | undefined {
  if (err.status === 403) {
    return /missing role permissions|insufficient privileges|authorization_requestdenied/i.test(`${err.code} ${err.message}`)
      ? 'permission-not-granted'
      : 'blocked-by-policy';
  }
  if (err.status === 404) return /catalog/i.test(err.message) ? 'app-not-in-catalog' : 'no-teams-license';
  if (err.status === 401) return 'permission-not-granted';
  return undefined;
}
