/**
 * Test helpers around the sandbox tenant: start one on port 0 with the CA that scripts/test.ts
 * made (and told Node to trust), drive the authorize endpoint like a browser would, and build the
 * real clients (MSAL, Graph client) pointed at it.
 */
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { Client } from '@microsoft/microsoft-graph-client';
import { ensureCertificates, startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox';

export { authorizeWithoutPages } from '../../src/sandbox/sign-in-without-pages';

export const PRODUCT_REDIRECT_URI = 'http://localhost:3978/auth/callback';

/** A sandbox on 127.0.0.1, free ports. Needs `npm test` / `npx tsx scripts/test.ts …` (it trusts the CA). */
export async function startTestSandbox(overrides: Partial<SandboxOptions> = {}): Promise<Sandbox> {
  const dir = process.env.SANDBOX_CERTS_DIR;
  if (!dir || !process.env.NODE_EXTRA_CA_CERTS) {
    throw new Error(
      'The sandbox tests need the local CA trusted at process start. Run them with `npm test -- <pattern>` or `npx tsx scripts/test.ts <pattern>`, not plain `npx jest` (SANDBOX_CERTS_DIR / NODE_EXTRA_CA_CERTS are not set).',
    );
  }
  const certs = await ensureCertificates(dir);
  // Both loopback spellings are registered, as an app that is run either way would; ports never matter.
  return startSandbox({
    certs,
    productRedirectUris: [PRODUCT_REDIRECT_URI, 'http://127.0.0.1:3978/auth/callback'],
    productIdentifierUris: ['api://localhost:3978', 'api://127.0.0.1:3978'],
    ...overrides,
  });
}

/** MSAL confidential client for an app registered in the sandbox (default: the product app). */
export function msalClient(sandbox: Sandbox, options: { clientId?: string; clientSecret?: string; tenant?: string } = {}): ConfidentialClientApplication {
  const config: Configuration = {
    auth: {
      clientId: options.clientId ?? sandbox.productApp.clientId,
      clientSecret: options.clientSecret ?? sandbox.productApp.clientSecret,
      authority: `${sandbox.authorityHost}/${options.tenant ?? sandbox.tenantId}`,
      knownAuthorities: [sandbox.knownAuthority],
    },
  };
  return new ConfidentialClientApplication(config);
}

/** Graph client (with its default middleware: auth, RetryHandler, redirects) calling the sandbox. */
export function graphClient(sandbox: Sandbox, token: string | (() => Promise<string>)): Client {
  return Client.initWithMiddleware({
    baseUrl: `${sandbox.graphEndpoint}/`,
    // The client sends the bearer token only to Graph hosts or these (host names, no port).
    customHosts: new Set([new URL(sandbox.graphEndpoint).hostname]),
    authProvider: { getAccessToken: async () => (typeof token === 'string' ? token : token()) },
  });
}
