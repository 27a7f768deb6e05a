/** How the admin use cases refuse an input: VALIDATION_FAILED with a message that names the field. */
import type { z } from 'zod';
import { AppError } from '../../domain/errors';

/** A mailbox or user principal name, as the service account and the import accept it (lower-case). */
export const EMAIL = /^[^\s@,;"<>]+@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9])$/;

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
