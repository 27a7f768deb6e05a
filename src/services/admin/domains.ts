/** The tenant's pre-defined mail domains: read with suggestions, replaced as a whole, audited. */
import { z } from 'zod';
import type { DomainsResponse } from '../../contract';
import { AppError } from '../../domain/errors';
import { DNS_NAME_PATTERN as DNS_NAME } from '../../domain/formats';
import type { UserContext } from '../../identity/verify';
import type { Store } from '../../store/types';
import type { ServiceAccountTesterPort } from '../ports';
import { notAnObject, shown, zodFail } from '../validation';

export const MAX_DOMAINS = 200;

/** PUT /api/admin/domains: trimmed, lower-cased, without a trailing dot, each once. */
export const domainsSchema = z.object(
  {
    domains: z
      .array(
        z
          .string({ error: 'must be a text value' })
          .transform((d) => d.trim().toLowerCase().replace(/\.$/, ''))
          .refine((d) => DNS_NAME.test(d), { error: (issue) => `"${shown(issue.input, 80)}" is not a valid domain name` }),
        { error: 'must be a list of domain names' },
      )
      .max(MAX_DOMAINS, `at most ${MAX_DOMAINS} domains`)
      .transform((list) => [...new Set(list)]),
  },
  notAnObject('must be a JSON object with a list of domains'),
);

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
    const parsed = domainsSchema.safeParse(body);
    if (!parsed.success) zodFail(parsed.error);
    const { domains } = parsed.data;
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
