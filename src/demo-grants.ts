/**
 * The demo tenant's Graph connections are seeded as the story needs them (Adele connected, Grady
 * missing a permission), but a seeded row carries no grant: the first health check would find no
 * refresh token and call them broken. At the demo's start their consent is given for real,
 * through the same path as a user's "Connect Office 365": the sandbox's sign-in applies each demo
 * user's preset decision (login_hint), and the product redeems the code into the user's own
 * token-cache partition. A user seeded as needing a reconnect keeps no grant, as the story says.
 */
import type { Logger } from './log';
import { authorizeWithoutPages } from './sandbox/sign-in-without-pages';
import type { ConnectionService } from './services/connections';
import type { Store } from './store/types';

export interface DemoGrantsDeps {
  store: Store;
  connections: Pick<ConnectionService, 'startUrl' | 'beginConsent' | 'completeConsent'>;
  /** Where the sandbox sends the browser back with the code (the product's /auth/callback). */
  redirectUri: string;
  logger: Logger;
  now: () => Date;
}

/** Seeded states whose story includes a grant. */
const GRANTED_STATES = new Set(['connected', 'missing-permissions']);

/**
 * Consents for the seeded Graph connections that should hold a grant and do not. Each keeps the
 * seed's last-sync time; a failure is logged and leaves that connection as seeded.
 */
export async function grantSeededConnections(tenantId: string, deps: DemoGrantsDeps): Promise<number> {
  let granted = 0;
  for (let cursor: string | undefined, first = true; first || cursor; first = false) {
    const page = await deps.store.queryConnections(tenantId, { cursor, limit: 100, kind: 'graph-delegated' });
    cursor = page.nextCursor;
    for (const seeded of page.items) {
      if (!GRANTED_STATES.has(seeded.state) || seeded.homeAccountId || !seeded.oid) continue;
      try {
        await consent(tenantId, seeded.upn, seeded.oid, deps);
        const now = (await deps.store.getConnections(tenantId, seeded.upn)).find((c) => c.kind === 'graph-delegated');
        if (now && seeded.lastSyncAt) await deps.store.putConnection({ ...now, lastSyncAt: seeded.lastSyncAt });
        granted++;
      } catch (err) {
        deps.logger.warn({ err, upn: seeded.upn }, 'demo: seeded consent not given; the connection stays as seeded');
      }
    }
  }
  return granted;
}

async function consent(tenantId: string, upn: string, oid: string, deps: DemoGrantsDeps): Promise<void> {
  const start = new URL(await deps.connections.startUrl({ tenantId, oid, upn, roles: [], isAdmin: false, via: 'sso' }, 'popup'));
  const { url } = await deps.connections.beginConsent(start.searchParams.get('ticket') ?? '');
  const callback = await authorizeWithoutPages(url);
  if (`${callback.origin}${callback.pathname}` !== deps.redirectUri)
    throw new Error(`the sandbox sign-in went to ${callback.pathname}, not the product's callback`);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`the sandbox sign-in returned ${callback.searchParams.get('error') ?? 'no code'}`);
  const record = await deps.store.takeAuthState(callback.searchParams.get('state') ?? '', deps.now());
  if (record?.stage !== 'consent') throw new Error('the consent state was not found');
  await deps.connections.completeConsent(record, code);
}
