/** pino logger with redaction: tokens, secrets, cookies and auth headers never reach a log line. */
import pino from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.Authorization',
  '*.clientSecret',
  '*.client_secret',
  '*.secret',
  '*.password',
  '*.accessToken',
  '*.access_token',
  '*.refreshToken',
  '*.refresh_token',
  '*.idToken',
  '*.id_token',
  '*.token',
  '*.code_verifier',
  '*.codeVerifier',
  'clientSecret',
  'accessToken',
  'refreshToken',
  'token',
  'password',
];

export type Logger = pino.Logger;

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'connection-center' },
      // Error objects may carry raw token responses in `detail`: keep their message and code only.
      serializers: {
        err: (err: { name?: string; message?: string; code?: string; stack?: string }) => ({
          type: err?.name,
          message: scrubSecrets(err?.message ?? ''),
          code: err?.code,
          stack: err?.stack ? scrubSecrets(err.stack) : undefined,
        }),
      },
    },
    options.destination,
  );
}

/** Remove anything shaped like a bearer token or JWT from free text before it is logged. */
export function scrubSecrets(text: string): string {
  return text
    .replace(/Bearer\s+[A-Za-z0-9\-._~+/]+=*/gi, 'Bearer [redacted]')
    .replace(/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[jwt redacted]')
    .replace(/(client_secret|refresh_token|access_token|code_verifier|code)=([^&\s]+)/gi, '$1=[redacted]');
}
