/** How the use cases refuse an input: VALIDATION_FAILED with a message that names the field. */
import type { z } from 'zod';
import { AppError } from '../domain/errors';

/** A mailbox or user principal name, as the service account and the import accept it (lower-case). */
export const EMAIL = /^[^\s@,;"<>]+@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9])$/;

/** For a zod schema: the message for a body (or item) that is not an object at all; other issues keep zod's own (an unknown key, …). */
export const notAnObject = (message: string) => ({ error: (issue: { code: string }) => (issue.code === 'invalid_type' ? message : undefined) });

/** What a value looked like, short enough for a message. */
export const shown = (value: unknown, max: number) => String(value ?? '').slice(0, max);

export function fail(field: string, message: string, remedy?: string): never {
  throw new AppError('VALIDATION_FAILED', { message: `${field}: ${message}`, ...(remedy ? { remedy } : {}) });
}

/** The first zod issue as one line naming the field. */
export function zodFail(error: z.ZodError, prefix = ''): never {
  const issue = error.issues[0]!;
  const field =
    prefix +
    (issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : 'body');
  fail(field, issue.message);
}
