/**
 * Many users at once, for benchmarks and tests of work that scales with the directory (health
 * checks of every mailbox): created with active mailboxes, inside the access policy, and ready to
 * consent without a page; and a switch that breaks or restores chosen users in bulk.
 */
import { randomUUID } from 'node:crypto';
import type { UserState, World } from './state';
import type { MailboxState } from './seed';

export interface AddUsersOptions {
  count: number;
  /** `<prefix><n>@<domain>`; default `user`. */
  prefix?: string;
  /** Default: the tenant's default verified domain. */
  domain?: string;
  /** Default: the first tenant (Contoso). */
  tenantId?: string;
  mailbox?: MailboxState;
  inAccessPolicy?: boolean;
}

export type BreakHow = 'revoke' | 'refresh-fails' | 'no-mailbox' | 'outside-policy' | 'restore';

export function addUsers(world: World, opts: AddUsersOptions): Array<{ upn: string; oid: string }> {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error('count must be a whole number from 1 to 100000');
  const tenant = opts.tenantId ? world.findTenant(opts.tenantId) : world.tenants[0];
  if (!tenant) throw new Error(`No sandbox tenant '${opts.tenantId}'`);
  const domain = (opts.domain ?? tenant.domains.find((d) => d.isDefault)?.name ?? tenant.domains[0]?.name ?? '').toLowerCase();
  if (!domain) throw new Error('the tenant has no domain');
  const prefix = opts.prefix ?? 'user';
  const mailbox = opts.mailbox ?? 'active';
  const start = tenant.users.length;
  const taken = new Set(tenant.users.map((u) => u.upn.toLowerCase()));
  const out: Array<{ upn: string; oid: string }> = [];
  for (let i = 0; i < count; i++) {
    const n = start + i + 1;
    const upn = `${prefix}${n}@${domain}`;
    if (taken.has(upn)) throw new Error(`Sandbox user '${upn}' exists already`);
    const oid = randomUUID();
    const user: UserState = {
      oid,
      upn,
      displayName: `${prefix[0].toUpperCase()}${prefix.slice(1)} ${n}`,
      mailbox: 'none',
      inAccessPolicy: opts.inAccessPolicy ?? true,
      // Consent through login_hint completes without a page, as for a user who clicks Accept.
      presetConsent: 'accept',
      tenantId: tenant.id,
      roles: [],
      tokensValidFrom: 0,
      revokeReason: 'revoked',
      conditionalAccess: null,
    };
    tenant.users.push(user);
    world.setMailbox(user, mailbox);
    out.push({ upn, oid });
  }
  return out;
}

/** Breaks (or restores) each named user the same way; returns how many were changed. */
export function breakUsers(world: World, opts: { upns: string[]; how: BreakHow }): number {
  if (!Array.isArray(opts.upns)) throw new Error('upns must be a list');
  if (!['revoke', 'refresh-fails', 'no-mailbox', 'outside-policy', 'restore'].includes(opts.how))
    throw new Error('how must be revoke, refresh-fails, no-mailbox, outside-policy or restore');
  for (const upn of opts.upns) {
    const u = world.requireUser(upn);
    switch (opts.how) {
      case 'revoke':
        // Tokens issued in this same millisecond count as before the revocation.
        u.tokensValidFrom = world.now() + 1;
        u.revokeReason = 'revoked';
        break;
      case 'refresh-fails':
        u.refreshRevoked = true;
        break;
      case 'no-mailbox':
        world.setMailbox(u, 'notRestEnabled');
        break;
      case 'outside-policy':
        u.inAccessPolicy = false;
        break;
      case 'restore':
        u.refreshRevoked = false;
        u.inAccessPolicy = true;
        world.setMailbox(u, 'active');
        break;
    }
  }
  return opts.upns.length;
}
