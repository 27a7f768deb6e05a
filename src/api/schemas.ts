/**
 * The request bodies the API accepts, as zod schemas: each route validates its body here, at the
 * edge, so a service receives typed input and a refused body costs no store read or network call.
 * Messages name what is wrong after the field (`validationFailed` in ./body.ts prefixes the field).
 */
import { z } from 'zod';
import type { ServiceAccountInput } from '../contract';
import { CONNECTION_KINDS } from '../domain/connection';
import { campaignActionSchema } from '../services/campaign';
import { domainsSchema, MAX_IMPORT_ROWS, notAnObject, serviceAccountSchema } from '../services/admin';

/** POST /api/me/connect: `{ mode?: 'popup' | 'redirect' }`, the body itself optional. */
export const connectBody = z
  .object({ mode: z.enum(['popup', 'redirect'], { error: 'must be "popup" or "redirect"' }).default('popup') }, notAnObject('must be a JSON object'))
  .default({ mode: 'popup' });

/** PUT /api/admin/domains: the domains use case's own schema. */
export const domainsBody = domainsSchema;
export type DomainsBody = z.output<typeof domainsBody>;

/** PUT /api/admin/service-account and the body of its test; `clientSecret` omitted keeps the saved one. */
export const serviceAccountBody = z.strictObject(serviceAccountSchema.shape, notAnObject('must be a JSON object')) satisfies z.ZodType<ServiceAccountInput>;
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

/** POST /api/admin/campaign: the campaign's own schema. */
export const campaignBody = campaignActionSchema;
export type CampaignBody = z.output<typeof campaignBody>;

/** POST /api/messages: a Bot Framework activity; the bot reads the rest. */
export const activityBody = z.looseObject(
  { type: z.string({ error: 'is required (a Bot Framework activity names its type)' }) },
  { error: 'must be a Bot Framework activity (a JSON object)' },
);
