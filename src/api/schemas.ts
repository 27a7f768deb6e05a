/**
 * The request bodies the API accepts, as zod schemas: each route validates its body here, at the
 * edge, so a service receives typed input and a refused body costs no store read or network call.
 * Messages name what is wrong after the field (`validationFailed` in ./body.ts prefixes the field).
 */
import { z } from 'zod';
import type { ServiceAccountInput } from '../contract';
import { CONNECTION_KINDS } from '../domain/connection';
import { FEATURES, isFeature, type Feature } from '../domain/features';
import { DNS_NAME_PATTERN, isGuid } from '../domain/formats';
import { CAMPAIGN_ACTIONS, type CampaignAction } from '../domain/reach';
import { MAX_DOMAINS, MAX_IMPORT_ROWS } from '../services/admin';

const EMAIL = /^[^\s@,;"<>]+@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9])$/;
const MAILBOX = 'must be a mailbox address such as user@contoso.com';
/** Campaign domains: any DNS-like name (the campaign matches them against UPN suffixes). */
const CAMPAIGN_DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const MAX_CAMPAIGN_DOMAINS = 100;

/** The message for a body (or item) that is not an object at all; other issues keep zod's own (an unknown key, …). */
const notAnObject = (message: string) => ({ error: (issue: { code: string }) => (issue.code === 'invalid_type' ? message : undefined) });

/** What a value looked like, short enough for a message. */
const shown = (value: unknown, max: number) => String(value ?? '').slice(0, max);

/** POST /api/me/connect: `{ mode?: 'popup' | 'redirect' }`, the body itself optional. */
export const connectBody = z
  .object({ mode: z.enum(['popup', 'redirect'], { error: 'must be "popup" or "redirect"' }).default('popup') }, notAnObject('must be a JSON object'))
  .default({ mode: 'popup' });

/** PUT /api/admin/domains: trimmed, lower-cased, without a trailing dot, each once. */
export const domainsBody = z.object(
  {
    domains: z
      .array(
        z
          .string({ error: 'must be a text value' })
          .transform((d) => d.trim().toLowerCase().replace(/\.$/, ''))
          .refine((d) => DNS_NAME_PATTERN.test(d), { error: (issue) => `"${shown(issue.input, 80)}" is not a valid domain name` }),
        { error: 'must be a list of domain names' },
      )
      .max(MAX_DOMAINS, `at most ${MAX_DOMAINS} domains`)
      .transform((list) => [...new Set(list)]),
  },
  notAnObject('must be a JSON object with a list of domains'),
);
export type DomainsBody = z.output<typeof domainsBody>;

/** PUT /api/admin/service-account and the body of its test; `clientSecret` omitted keeps the saved one. */
export const serviceAccountBody = z.strictObject(
  {
    tenant: z
      .string({ error: 'is required' })
      .trim()
      .min(1, 'is required')
      .transform((v) => v.toLowerCase())
      .refine((v) => isGuid(v) || DNS_NAME_PATTERN.test(v), 'must be a tenant GUID or a domain such as contoso.com'),
    clientId: z
      .string({ error: 'is required' })
      .trim()
      .refine(isGuid, 'must be a GUID (the Application (client) ID from the app’s Overview page)')
      .transform((v) => v.toLowerCase()),
    clientSecret: z.string({ error: 'must be text' }).min(1, 'must not be empty').max(1024, 'is too long').optional(),
    secretExpiresAt: z.iso
      .date('must be a date as YYYY-MM-DD')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    testAccount: z.string({ error: 'is required' }).trim().toLowerCase().regex(EMAIL, MAILBOX),
    outOfScopeAccount: z
      .string()
      .trim()
      .toLowerCase()
      .regex(EMAIL, MAILBOX)
      .optional()
      .or(z.literal('').transform(() => undefined)),
    features: z
      .array(z.string().refine(isFeature, `must be one of ${FEATURES.join(', ')}`), { error: 'must be a list of features' })
      .min(1, 'must enable at least one feature')
      .transform((f) => [...new Set(f)] as Feature[]),
  },
  notAnObject('must be a JSON object'),
) satisfies z.ZodType<ServiceAccountInput>;
export type ServiceAccountBody = z.output<typeof serviceAccountBody>;

/** POST /api/admin/service-account/test: a configuration to try, or nothing (`{}` too) for the saved one. */
export const serviceAccountTestBody = z.preprocess(
  (v) => (v === null || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) ? undefined : v),
  serviceAccountBody.optional(),
);

/**
 * POST /api/admin/connections/import as JSON: the list's shape. Each row is checked by the import,
 * with the same rules as a CSV line (and messages naming the row).
 */
export const importJsonBody = z.object(
  {
    connections: z
      .array(z.record(z.string(), z.unknown(), notAnObject(`must be an object (upn, kind: one of ${CONNECTION_KINDS.join(', ')})`)), {
        error: 'must be a list',
      })
      .min(1, 'contains no connections')
      .max(MAX_IMPORT_ROWS, `at most ${MAX_IMPORT_ROWS} connections per import`),
  },
  notAnObject('must be a JSON object with a list of connections'),
);

/** POST /api/admin/campaign: `{ action, domains? }`. */
export const campaignBody = z.object(
  {
    action: z.enum(CAMPAIGN_ACTIONS as [CampaignAction, ...CampaignAction[]], { error: `must be one of ${CAMPAIGN_ACTIONS.join(', ')}.` }),
    domains: z
      .array(
        z
          .string({ error: 'must be text' })
          .transform((d) => d.trim().toLowerCase())
          .refine((d) => CAMPAIGN_DOMAIN.test(d), { error: 'must be a mail domain such as contoso.com.' }),
        { error: 'must be a list of mail domains such as contoso.com.' },
      )
      .max(MAX_CAMPAIGN_DOMAINS, `at most ${MAX_CAMPAIGN_DOMAINS} domains.`)
      .transform((list) => [...new Set(list)])
      .optional(),
  },
  notAnObject('must be a JSON object'),
);
export type CampaignBody = z.output<typeof campaignBody>;

/** POST /api/messages: a Bot Framework activity; the bot reads the rest. */
export const activityBody = z.looseObject(
  { type: z.string({ error: 'is required (a Bot Framework activity names its type)' }) },
  { error: 'must be a Bot Framework activity (a JSON object)' },
);
