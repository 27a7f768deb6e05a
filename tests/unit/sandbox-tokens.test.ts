/**
 * The sandbox's JWTs: signed as jose's SignJWT signs them, checked as jose's jwtVerify checks them
 * (same outcome for every kind of broken token), and a verified token kept only as long as it lives.
 */
import { createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { TokenSigner, type VerifyResult } from '../../src/sandbox/tokens';

let signer: TokenSigner;
let privateKey: KeyObject;

beforeAll(async () => {
  signer = await TokenSigner.create();
  privateKey = createPrivateKey(signer.privateKeyPem());
});

const NOW_MS = Date.UTC(2026, 5, 1, 12, 0, 0);
const NOW = NOW_MS / 1000;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** What the sandbox answered before it signed and verified tokens itself (jose, the same mapping of errors to reasons). */
async function joseVerify(token: string, nowMs: number): Promise<VerifyResult> {
  if (token.split('.').length !== 3) return { ok: false, reason: 'malformed' };
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== 'RS256' || header.kid !== signer.kid) return { ok: false, reason: 'signature' };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  try {
    const { payload } = await jwtVerify(token, signer.publicKey, { algorithms: ['RS256'], currentDate: new Date(nowMs), clockTolerance: 300 });
    return { ok: true, claims: payload };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') return { ok: false, reason: 'not-yet-valid' };
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'signature' };
    return { ok: false, reason: 'malformed' };
  }
}

/**
 * A compact JWS over exactly this header and these payload bytes, signed with `key` (the sandbox's by
 * default); built by hand, as jose will not sign the odd headers some cases need. With `b64: false`
 * the payload goes in unencoded.
 */
function jws(header: Record<string, unknown>, payload: string | Buffer, key: KeyObject = privateKey): string {
  const body = header.b64 === false ? Buffer.from(payload).toString() : b64(payload);
  const input = `${b64(JSON.stringify(header))}.${body}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

describe('TokenSigner.sign', () => {
  test('produces the bytes jose SignJWT produces for the same claims', async () => {
    const claims = {
      uti: 'fixed-uti-for-the-test',
      aud: 'https://graph.microsoft.com',
      iss: 'https://127.0.0.1:1/tid/v2.0',
      iat: NOW,
      nbf: NOW,
      exp: NOW + 3599,
      name: 'Zoë “quoted” \u2028 Ünïcode',
      roles: ['Calendars.Read', 'Mail.Read'],
      skipped: undefined,
    };
    const ours = await signer.sign(claims);
    const theirs = await new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: signer.kid }).sign(privateKey);
    expect(ours).toBe(theirs);
  });

  test('gives every token a uti of its own', async () => {
    const a = await signer.sign({ exp: NOW + 60 });
    const b = await signer.sign({ exp: NOW + 60 });
    expect(a).not.toBe(b);
  });
});

describe('TokenSigner.verify agrees with jose jwtVerify', () => {
  const claims = (extra: Record<string, unknown> = {}) => JSON.stringify({ aud: 'x', iat: NOW, nbf: NOW, exp: NOW + 3600, ...extra });
  const header = { typ: 'JWT', alg: 'RS256' };
  /** Each case with what it comes to at NOW (so that a case keeps testing what its name says). */
  const cases: [string, 'ok' | 'malformed' | 'signature' | 'expired' | 'not-yet-valid', () => string | Promise<string>][] = [
    ['a valid token', 'ok', () => signer.sign({ aud: 'x', iat: NOW, nbf: NOW, exp: NOW + 3600 })],
    ['no lifetime claims at all', 'ok', () => jws({ ...header, kid: signer.kid }, JSON.stringify({ aud: 'x' }))],
    ['expired', 'expired', () => signer.sign({ iat: NOW - 7200, nbf: NOW - 7200, exp: NOW - 600 })],
    ['expired, but within the clock tolerance', 'ok', () => signer.sign({ iat: NOW - 3900, exp: NOW - 200 })],
    ['exactly at exp minus the tolerance', 'expired', () => signer.sign({ exp: NOW - 300 })],
    ['not yet valid', 'not-yet-valid', () => signer.sign({ nbf: NOW + 600, exp: NOW + 4000 })],
    ['not yet valid and expired', 'not-yet-valid', () => signer.sign({ nbf: NOW + 600, exp: NOW - 600 })],
    ['nbf within the tolerance', 'ok', () => signer.sign({ nbf: NOW + 300, exp: NOW + 4000 })],
    ['iat not a number', 'malformed', () => jws({ ...header, kid: signer.kid }, claims({ iat: 'yesterday' }))],
    ['nbf not a number', 'not-yet-valid', () => jws({ ...header, kid: signer.kid }, claims({ nbf: '1' }))],
    ['exp not a number', 'malformed', () => jws({ ...header, kid: signer.kid }, claims({ exp: null }))],
    ['payload an array', 'malformed', () => jws({ ...header, kid: signer.kid }, '[1,2]')],
    ['payload not JSON', 'malformed', () => jws({ ...header, kid: signer.kid }, 'hello')],
    [
      'payload JSON behind a byte order mark',
      'ok',
      () => jws({ ...header, kid: signer.kid }, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(claims())])),
    ],
    [
      'payload with invalid UTF-8 in a string',
      'ok',
      () => jws({ ...header, kid: signer.kid }, Buffer.concat([Buffer.from('{"aud":"'), Buffer.from([0xff]), Buffer.from('"}')])),
    ],
    ['another key', 'signature', () => jws({ ...header, kid: signer.kid }, claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)],
    ['another kid', 'signature', () => jws({ ...header, kid: 'other' }, claims())],
    ['no kid', 'signature', () => jws(header, claims())],
    ['another alg', 'signature', () => `${b64(JSON.stringify({ alg: 'HS256', kid: signer.kid }))}.${b64(claims())}.c2ln`],
    ['header not JSON', 'malformed', () => `${b64('{alg')}.${b64(claims())}.c2ln`],
    ['header an array', 'malformed', () => `${b64('["RS256"]')}.${b64(claims())}.c2ln`],
    ['empty header', 'malformed', () => `.${b64(claims())}.c2ln`],
    ['crit naming an unknown parameter', 'malformed', () => jws({ ...header, kid: signer.kid, crit: ['exp'], exp: 1 }, claims())],
    ['crit not an array', 'malformed', () => jws({ ...header, kid: signer.kid, crit: 'b64', b64: true }, claims())],
    ['crit empty', 'malformed', () => jws({ ...header, kid: signer.kid, crit: [] }, claims())],
    ['crit null', 'malformed', () => jws({ ...header, kid: signer.kid, crit: null }, claims())],
    ['crit b64 without b64', 'malformed', () => jws({ ...header, kid: signer.kid, crit: ['b64'] }, claims())],
    ['crit b64 not a boolean', 'malformed', () => jws({ ...header, kid: signer.kid, crit: ['b64'], b64: 'yes' }, claims())],
    ['crit b64 true', 'ok', () => jws({ ...header, kid: signer.kid, crit: ['b64'], b64: true }, claims())],
    ['crit b64 false (unencoded payload)', 'malformed', () => jws({ ...header, kid: signer.kid, crit: ['b64'], b64: false }, claims())],
    [
      'crit naming an unknown parameter, and a bad signature',
      'malformed',
      () =>
        `${jws({ ...header, kid: signer.kid, crit: ['exp'] }, claims())
          .split('.')
          .slice(0, 2)
          .join('.')}.c2ln`,
    ],
    [
      'tampered payload',
      'signature',
      async () => {
        const [h, , s] = (await signer.sign({ exp: NOW + 60, scp: 'User.Read' })).split('.');
        return `${h}.${b64(JSON.stringify({ exp: NOW + 60, scp: 'Mail.ReadWrite' }))}.${s}`;
      },
    ],
    [
      'tampered signature',
      'signature',
      async () => {
        const t = await signer.sign({ exp: NOW + 60 });
        const i = t.lastIndexOf('.') + 10;
        return `${t.slice(0, i)}${t[i] === 'A' ? 'B' : 'A'}${t.slice(i + 1)}`;
      },
    ],
    ['signature cut short', 'signature', async () => (await signer.sign({ exp: NOW + 60 })).slice(0, -20)],
    ['empty signature', 'signature', async () => (await signer.sign({ exp: NOW + 60 })).replace(/\.[^.]*$/, '.')],
    ['signature not base64url', 'signature', async () => (await signer.sign({ exp: NOW + 60 })).replace(/\.[^.]*$/, '.!!!*')],
    ['two parts', 'malformed', async () => (await signer.sign({ exp: NOW + 60 })).replace(/\.[^.]*$/, '')],
    ['four parts', 'malformed', async () => `${await signer.sign({ exp: NOW + 60 })}.x`],
    ['not a JWT', 'malformed', () => 'not-a-jwt'],
    ['empty', 'malformed', () => ''],
  ];

  test.each(cases)('%s', async (_name, atNow, make) => {
    const token = await make();
    const first = await joseVerify(token, NOW_MS);
    expect(first.ok ? 'ok' : first.reason).toBe(atNow);
    // A fresh signer state for each presentation would hide the cache: ask twice, and at other times.
    for (const at of [NOW_MS, NOW_MS + 3_000_000, NOW_MS - 3_000_000, NOW_MS]) {
      const expected = await joseVerify(token, at);
      expect(await signer.verify(token, at)).toEqual(expected);
    }
  });
});

describe('verified tokens kept', () => {
  test('a token presented again is still held to its lifetime, and honoured again when the clock goes back', async () => {
    const token = await signer.sign({ iat: NOW, nbf: NOW, exp: NOW + 3600 });
    expect(await signer.verify(token, NOW_MS)).toMatchObject({ ok: true });
    expect(await signer.verify(token, NOW_MS + 3_599_000)).toMatchObject({ ok: true });
    expect(await signer.verify(token, NOW_MS + (3600 + 300) * 1000)).toEqual({ ok: false, reason: 'expired' });
    expect(await signer.verify(token, NOW_MS - 301_000)).toEqual({ ok: false, reason: 'not-yet-valid' });
    expect(await signer.verify(token, NOW_MS)).toMatchObject({ ok: true, claims: { exp: NOW + 3600 } });
  });

  test('a token that failed is not kept as valid: asked again, it fails again', async () => {
    const good = await signer.sign({ exp: NOW + 3600, scp: 'User.Read' });
    const [h, , s] = good.split('.');
    const forged = `${h}.${b64(JSON.stringify({ exp: NOW + 3600, scp: 'Mail.ReadWrite' }))}.${s}`;
    expect(await signer.verify(forged, NOW_MS)).toEqual({ ok: false, reason: 'signature' });
    expect(await signer.verify(good, NOW_MS)).toMatchObject({ ok: true });
    expect(await signer.verify(forged, NOW_MS)).toEqual({ ok: false, reason: 'signature' });
  });

  test('a token first presented after it expired is not kept: it verifies once the clock allows it', async () => {
    const token = await signer.sign({ nbf: NOW, exp: NOW + 60 });
    expect(await signer.verify(token, NOW_MS + 3_600_000)).toEqual({ ok: false, reason: 'expired' });
    expect(await signer.verify(token, NOW_MS)).toMatchObject({ ok: true });
  });

  test('a token of another sandbox (another key) is refused even after the same claims verified here', async () => {
    const other = await TokenSigner.create();
    const claims = { uti: 'same', exp: NOW + 3600 };
    expect(await signer.verify(await signer.sign(claims), NOW_MS)).toMatchObject({ ok: true });
    expect(await signer.verify(await other.sign(claims), NOW_MS)).toEqual({ ok: false, reason: 'signature' });
  });
});
