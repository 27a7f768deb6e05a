import { loggableError } from '../../bot/safe-error';
import { captureLogger } from '../helpers/bot-kit';

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJib3QifQ.c2lnbmF0dXJlLXZhbHVl';
const SECRETS = [JWT, 'opaque-access-0123', 'refresh-0123', 'hunter2', 'dXNlcjpwYXNzd29yZA', 'Zx8Q~client-secret-value'];

/** What botbuilder's connector throws on an HTTP error: the request (headers too) and the response ride along. */
function restError(): Error {
  return Object.assign(new Error(`Request failed: Authorization: Bearer ${JWT}; body {"access_token":"opaque-access-0123","refresh_token": "refresh-0123"}`), {
    name: 'RestError',
    code: 'Unauthorized',
    statusCode: 401,
    request: { url: 'https://smba.trafficmanager.net/emea/v3/conversations/x/activities', headers: { authorization: `Bearer ${JWT}` } },
    response: { status: 401, bodyAsText: '{"error":{"message":"password=hunter2"}}', headers: { 'set-cookie': 'session=abc' } },
  });
}

describe('loggableError', () => {
  test('keeps the name, the code and a scrubbed message; drops the request and the response', () => {
    const out = loggableError(restError());
    expect(Object.keys(out).sort()).toEqual(['code', 'message', 'name', 'stack']);
    expect(out).toMatchObject({ name: 'RestError', code: 'Unauthorized' });
    expect(out.message).toBe('Request failed: Authorization: Bearer [redacted]; body {"access_token":"[redacted]","refresh_token": "[redacted]"}');
    expect(out.stack?.startsWith('RestError: Request failed: Authorization: Bearer [redacted]')).toBe(true);
    expect(loggableError(restError(), { stack: false }).stack).toBeUndefined();
  });

  test.each([
    ['password=hunter2 in a connection string', 'database password=hunter2 unreachable', 'database password=[redacted] unreachable'],
    ['a Basic header', 'Authorization: Basic dXNlcjpwYXNzd29yZA', 'Authorization: Basic [redacted]'],
    ['a form body', 'client_secret=Zx8Q~client-secret-value&grant_type=client_credentials', 'client_secret=[redacted]&grant_type=client_credentials'],
    ['a bare JWT', `token ${JWT} expired`, 'token [jwt redacted] expired'],
    ['plain words about authorization', 'Authorization has been denied for this request.', 'Authorization has been denied for this request.'],
  ])('scrubs %s', (_label, message, expected) => {
    expect(loggableError(new Error(message)).message).toBe(expected);
  });

  test('something thrown that is not an Error: its message, scrubbed, and nothing else', () => {
    expect(loggableError({ message: `Bearer ${JWT}`, request: { headers: { authorization: JWT } } })).toEqual({ name: 'object', message: 'Bearer [redacted]' });
    expect(loggableError('plain string')).toEqual({ name: 'string', message: 'plain string' });
    expect(loggableError(undefined)).toEqual({ name: 'undefined', message: 'undefined' });
  });

  test('long messages are clipped', () => {
    expect(loggableError(new Error('x'.repeat(10_000))).message).toHaveLength(500);
  });

  test('through a bare pino logger nothing secret is written; the raw error would have leaked', () => {
    const safe = captureLogger('bare');
    safe.logger.error({ err: loggableError(restError()) }, 'send failed');
    const written = safe.lines.join('');
    expect(written).toContain('RestError');
    for (const secret of SECRETS) expect(written).not.toContain(secret);

    // The premise: pino's standard serializer copies the error's own fields, headers included.
    const raw = captureLogger('bare');
    raw.logger.error({ err: restError() }, 'send failed');
    expect(raw.lines.join('')).toContain(JWT);
  });
});
