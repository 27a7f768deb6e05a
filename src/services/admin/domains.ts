/** The tenant's pre-defined mail domains: read with suggestions, replaced as a whole, audited. */
import type { DomainsResponse } from '../../contract';
import { AppError } from '../../domain/errors';
import { DNS_NAME_PATTERN as DNS_NAME } from '../../domain/formats';
import type { UserContext } from '../../identity/verify';
import type { Store } from '../../store/types';
import type { ServiceAccountTesterPort } from '../ports';
import { fail } from './validation';

export const MAX_DOMAINS = 200;

export interface DomainsAdminDeps {
  store: Store;
  /** Suggests the verified domains the saved service account can read. */
  tester: Pick<ServiceAccountTesterPort, 'verifiedDomains'>;
}

export class DomainsAdmin {
  constructor(private readonly deps: DomainsAdminDeps) {}

  async getDomains(user: UserContext): Promise<DomainsResponse> {
    const domains = await this.deps.store.getDomains(user.tenantId);
    return { domains, suggestions: await this.suggestions(user, domains) };
  }

  private async suggestions(user: UserContext, have: string[]): Promise<string[]> {
    const out = new Set<string>();
    const own = user.upn.split('@')[1];
    if (own) out.add(own);
    const sa = await this.deps.store.getServiceAccount(user.tenantId);
    if (sa) {
      const verified = await this.deps.tester.verifiedDomains(sa).catch(() => []);
      for (const d of verified) out.add(d.toLowerCase());
    }
    return [...out].filter((d) => !have.includes(d)).sort();
  }

  async putDomains(user: UserContext, body: unknown): Promise<DomainsResponse> {
    if (!body || typeof body !== 'object' || !Array.isArray((body as { domains?: unknown }).domains)) fail('domains', 'must be a list of domain names');
    const raw = (body as { domains: unknown[] }).domains;
    if (raw.length > MAX_DOMAINS) fail('domains', `at most ${MAX_DOMAINS} domains`);
    const domains: string[] = [];
    raw.forEach((d, i) => {
      if (typeof d !== 'string') fail(`domains[${i}]`, 'must be a text value');
      const v = d.trim().toLowerCase().replace(/\.$/, '');
      if (!DNS_NAME.test(v)) fail(`domains[${i}]`, `"${d.slice(0, 80)}" is not a valid domain name`);
      if (!domains.includes(v)) domains.push(v);
    });
    const sa = await this.deps.store.getServiceAccount(user.tenantId);
    if (sa && !domains.includes(sa.testAccount.split('@')[1]!)) {
      throw new AppError('TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED', {
        message: `The saved service account’s test mailbox ${sa.testAccount} would fall outside the domains; keep its domain or change the test mailbox first.`,
      });
    }
    await this.deps.store.setDomains(user.tenantId, domains);
    await this.deps.store.audit({ tenantId: user.tenantId, actor: user.upn, action: 'domains.updated', details: { domains } });
    return { domains, suggestions: await this.suggestions(user, domains) };
  }
}
