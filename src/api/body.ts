/**
 * Request bodies at the route edge: a route that takes a body lists the step that reads it
 * (`readBody` for raw content, `jsonBody(schema)` for JSON), so no route gets a body it did not ask
 * for and every JSON body reaches its service validated and typed. Answers: too large → 413
 * PAYLOAD_TOO_LARGE, wrong content type → 415, malformed JSON or a field the schema refuses → 400
 * VALIDATION_FAILED naming the field (docs/errors.md).
 */
import restify, { type Request, type Response } from 'restify';
import type { z } from 'zod';
import { AppError } from '../domain/errors';
import { rawBody, step, type Step, type StepState } from './http';

/** The largest body any route reads. */
export const MAX_BODY_BYTES = 1024 * 1024;

export const TOO_LARGE_MESSAGE = `The request body is larger than ${MAX_BODY_BYTES / 1024} KB.`;

const bodyReader = restify.plugins.bodyReader({ maxBodySize: MAX_BODY_BYTES });

/** restify's body errors (restify-errors, by HTTP status) as catalogue errors. */
function bodyReadError(err: Error & { statusCode?: number }): AppError {
  if (err.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', { message: TOO_LARGE_MESSAGE });
  if (err.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', { message: `The request body could not be read: ${err.message}.` });
  if (err.statusCode !== undefined && err.statusCode < 500)
    return new AppError('VALIDATION_FAILED', { message: `The request body could not be read: ${err.message}.` });
  return new AppError('INTERNAL', { detail: err });
}

/** Reads the raw body (at most MAX_BODY_BYTES) into the request, for `rawBody(req)`. */
export const readBody: Step = step(
  'readBody',
  (req: Request, res: Response) =>
    new Promise<void>((resolve, reject) => {
      bodyReader(req, res, ((err?: unknown) => (err instanceof Error ? reject(bodyReadError(err)) : resolve())) as restify.Next);
    }),
);

const JSON_TYPE = /^application\/([a-z.+-]*\+)?json\b/;

/** The body as JSON: undefined when empty; wrong content type → 415, malformed → 400. */
export function parseJson(req: Request): unknown {
  const raw = rawBody(req);
  if (!raw || raw.length === 0) return undefined;
  const type = (req.header('content-type') ?? '').toLowerCase();
  if (!JSON_TYPE.test(type)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', { message: `Content-Type ${type || '(none)'} is not supported here; send application/json.` });
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError('VALIDATION_FAILED', {
      message: 'The request body is not valid JSON.',
      remedy: 'Send the body as a JSON document (Content-Type: application/json).',
    });
  }
}

export function isJsonType(contentType: string): boolean {
  return JSON_TYPE.test(contentType.toLowerCase());
}

/** Where an issue is, as a reader writes it: `domains[1]`, `connections[0].upn`; `body` for the whole. */
function fieldOf(path: readonly PropertyKey[], prefix: string): string {
  const field = path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  return prefix + (field || (prefix ? '' : 'body'));
}

/** At most this many issues are named in one message; the first is the one a form should show. */
const MAX_ISSUES_NAMED = 3;

/**
 * A zod error as the catalogue's VALIDATION_FAILED: `field: what is wrong`, the first issue first,
 * then up to two more (`; `-separated) so a client fixing one field learns about the next.
 */
export function validationFailed(error: z.ZodError, prefix = ''): AppError {
  const named = error.issues.slice(0, MAX_ISSUES_NAMED).map((issue) => `${fieldOf(issue.path, prefix)}: ${issue.message}`);
  const more = error.issues.length - named.length;
  return new AppError('VALIDATION_FAILED', { message: named.join('; ') + (more > 0 ? ` (and ${more} more)` : '') });
}

/** Parses a value with a schema, throwing VALIDATION_FAILED naming the field(s). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationFailed(parsed.error, prefix);
  return parsed.data;
}

export interface BodyStep<T> extends Step {
  /** The validated body a previous run of this step put in the state. */
  of(state: StepState): T;
}

/**
 * Reads, parses and validates a JSON body. An empty body is refused unless `optional`, in which
 * case the schema sees `undefined` (give it a default). The typed result is `bodyStep.of(state)`.
 */
export function jsonBody<S extends z.ZodType>(schema: S, options: { optional?: boolean } = {}): BodyStep<z.output<S>> {
  const s = step('jsonBody', async (req, res, state) => {
    await readBody(req, res, state);
    const json = parseJson(req);
    if (json === undefined && !options.optional) throw new AppError('VALIDATION_FAILED', { message: 'The request body is empty; send a JSON object.' });
    state.body = validate(schema, json);
  }) as BodyStep<z.output<S>>;
  s.of = (state) => state.body as z.output<S>;
  return s;
}
