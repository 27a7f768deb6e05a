/**
 * How every MSAL client of the product is built: the authority (host, tenant segment, known
 * authorities for a non-Microsoft host such as the sandbox), the discovery document fetched
 * beforehand (./tenant-discovery.ts), the timed network client and a logger that never logs PII.
 */
import { ConfidentialClientApplication, LogLevel, type ICachePlugin } from '@azure/msal-node';
import { scrubSecrets, type Logger } from '../log';
import type { TimedNetworkClient } from './network';

export type LoggerLike = Pick<Logger, 'warn' | 'debug'>;

/** Hosts for which MSAL carries its own cloud discovery metadata; any other host must be a known authority. */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoft.com',
  'login.windows.net',
  'sts.windows.net',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.de',
]);

export function trimHost(authorityHost: string): string {
  return authorityHost.replace(/\/+$/, '');
}

/** knownAuthorities as MSAL compares them: host with port. */
export function knownAuthoritiesFor(authorityHost: string, given?: string[]): string[] | undefined {
  if (given && given.length > 0) return given;
  const host = new URL(authorityHost).host;
  return MICROSOFT_AUTHORITY_HOSTS.has(host.toLowerCase()) ? undefined : [host];
}

export function msalLoggerOptions(logger?: LoggerLike) {
  return {
    piiLoggingEnabled: false,
    logLevel: LogLevel.Warning,
    loggerCallback: (level: LogLevel, message: string, containsPii: boolean) => {
      if (!logger || containsPii) return;
      logger.debug({ msal: scrubSecrets(message), level }, 'msal');
    },
  };
}

export interface ConfidentialClientOptions {
  /** The authority host, trimmed (trimHost). */
  host: string;
  /** The authority's path segment: a tenant GUID, a domain or `organizations`. */
  tenant: string;
  clientId: string;
  clientSecret: string;
  /** From knownAuthoritiesFor; undefined for Microsoft's own hosts. */
  knownAuthorities?: string[];
  /** The tenant's OpenID configuration as received (TenantMetadata.raw): MSAL then asks for no discovery itself. */
  authorityMetadata: string;
  /** The client of this one operation: it remembers the HTTP status MSAL does not report. */
  network: TimedNetworkClient;
  logger?: LoggerLike;
  cachePlugin?: ICachePlugin;
}

export function confidentialClient(o: ConfidentialClientOptions): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      authority: `${o.host}/${o.tenant}`,
      ...(o.knownAuthorities ? { knownAuthorities: o.knownAuthorities } : {}),
      authorityMetadata: o.authorityMetadata,
    },
    ...(o.cachePlugin ? { cache: { cachePlugin: o.cachePlugin } } : {}),
    system: { networkClient: o.network, loggerOptions: msalLoggerOptions(o.logger) },
  });
}
