/**
 * Errors as the bot logs them: `logger.x({ err: loggableError(err) }, …)`. botbuilder's errors
 * (RestError and friends) carry the HTTP request with its Authorization header and the response
 * body; a generic serializer would copy both into the log. Only the name, the code and a scrubbed,
 * clipped message and stack leave here, whatever logger the bot was given.
 */
import { scrubSecrets } from '../src/log';

export interface LoggableError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

const MAX_MESSAGE = 500;
const MAX_STACK = 2000;

/** Also what scrubSecrets (bearer, JWT, query pairs) misses: JSON fields and other auth schemes. */
function scrub(text: string): string {
  return scrubSecrets(text)
    .replace(/("?(?:access_token|refresh_token|id_token|client_secret|password)"?\s*[:=]\s*"?)[^"\s,&}]+/gi, '$1[redacted]')
    .replace(
      /(authorization"?\s*[:=]\s*"?)(?:([A-Za-z]+)\s+)?[^"\s,;}]+/gi,
      (_m, key: string, scheme?: string) => `${key}${scheme ? `${scheme} ` : ''}[redacted]`,
    );
}

/** `stack: false` where the stack says nothing new (a send the Bot Connector refused). */
export function loggableError(err: unknown, options: { stack?: boolean } = {}): LoggableError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name.slice(0, 100),
      message: scrub(err.message).slice(0, MAX_MESSAGE),
      ...(typeof code === 'string' || typeof code === 'number' ? { code: scrub(String(code)).slice(0, 100) } : {}),
      ...(err.stack && options.stack !== false ? { stack: scrub(err.stack).slice(0, MAX_STACK) } : {}),
    };
  }
  // Something thrown that is not an Error: its message if it has one, never its other fields.
  const message = (err as { message?: unknown } | null)?.message;
  return { name: typeof err, message: scrub(typeof message === 'string' ? message : String(err)).slice(0, MAX_MESSAGE) };
}
