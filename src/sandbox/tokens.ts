/**
 * The sandbox's token signing key, its JWKS, and minting/verification of RS256 JWTs with the claims
 * Entra ID puts in v2.0 tokens. A new key per sandbox instance, unless a saved one is given back
 * (the persisted sandbox keeps its key so tokens issued before a restart still verify).
 *
 * Compact RS256 JWS is built and checked here with node:crypto's synchronous sign/verify: jose's
 * promise-based path costs several times the RSA operation itself, on every token endpoint call and
 * every Graph request with a new token. Tokens are byte for byte what jose's SignJWT produces, and
 * verification accepts and refuses exactly what jose's jwtVerify does (tests/unit/sandbox-tokens
 * compares the two).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { exportJWK, type JWK, type JWTPayload } from 'jose';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface Jwks {
  keys: (JWK & { kid: string; use: string; x5t: string; issuer: string })[];
}

export type Claims = JWTPayload & Record<string, unknown>;
export type VerifyResult = { ok: true; claims: Claims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'not-yet-valid' };

export class TokenSigner {
  /** base64url of the protected header every token of this key carries. */
  readonly #header: string;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly kid: string,
    private readonly publicJwk: JWK,
  ) {
    this.#header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid })).toString('base64url');
  }

  /** A fresh RSA-2048 key, or the given PKCS#8 PEM (throws when it is not an RSA key of 2048 bits or more). */
  static async create(privateKeyPem?: string): Promise<TokenSigner> {
    let privateKey: KeyObject;
    let publicKey: KeyObject;
    if (privateKeyPem === undefined) {
      ({ privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 }));
    } else {
      privateKey = createPrivateKey({ key: privateKeyPem, format: 'pem' });
      if (privateKey.asymmetricKeyType !== 'rsa' || (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
        throw new Error('the signing key is not an RSA key of at least 2048 bits');
      }
      publicKey = createPublicKey(privateKey);
    }
    const jwk = await exportJWK(publicKey);
    // Entra key ids look like a base64url thumbprint; derive one from the modulus.
    const kid = createHash('sha1')
      .update(jwk.n ?? '')
      .digest('base64url');
    return new TokenSigner(privateKey, publicKey, kid, jwk);
  }

  /** The private key as PKCS#8 PEM, for the state file only. */
  privateKeyPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  jwks(authorityHost: string): Jwks {
    return {
      keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, n: this.publicJwk.n, e: this.publicJwk.e, issuer: `${authorityHost}/{tenantid}/v2.0` }],
    };
  }

  /**
   * Tokens whose signature verified, with their claims: a token presented again (every `$batch` of
   * a sweep carries the same one) is not verified again, only its lifetime. The oldest go first.
   */
  readonly #verified = new Map<string, Claims>();

  async sign(claims: Claims): Promise<string> {
    const payload = Buffer.from(JSON.stringify({ uti: randomUUID().replace(/-/g, '').slice(0, 22), ...claims })).toString('base64url');
    const input = `${this.#header}.${payload}`;
    return `${input}.${sign('sha256', Buffer.from(input), this.privateKey).toString('base64url')}`;
  }

  /**
   * Verify signature and lifetime (against `nowMs`, the sandbox clock). Returns a reason instead of
   * throwing so that callers can word the error the way the real service does.
   */
  async verify(token: string, nowMs: number): Promise<VerifyResult> {
    const seen = this.#verified.get(token);
    if (seen) {
      const result = lifetime(seen, nowMs);
      if (!result.ok && result.reason === 'expired') this.#verified.delete(token);
      return result;
    }
    const result = this.#verifyCompact(token, nowMs);
    if (result.ok) {
      if (this.#verified.size >= VERIFIED_KEPT) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, result.claims);
    }
    return result;
  }

  /** The checks of jose's decodeProtectedHeader + jwtVerify(RS256 only), in their order, with the reason each failure maps to. */
  #verifyCompact(token: string, nowMs: number): VerifyResult {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const [protectedB64, payloadB64, signatureB64] = parts;
    const header = protectedB64 ? parseObject(base64url(protectedB64)) : undefined;
    if (!header) return { ok: false, reason: 'malformed' };
    if (header.alg !== 'RS256' || header.kid !== this.kid) return { ok: false, reason: 'signature' };
    // Critical header parameters: only b64 is understood, and only when the header sets it.
    let b64 = true;
    if (header.crit !== undefined) {
      const crit = header.crit;
      if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string' || c.length === 0)) return { ok: false, reason: 'malformed' };
      if (crit.some((c) => c !== 'b64') || header.b64 === undefined) return { ok: false, reason: 'malformed' };
      if (typeof header.b64 !== 'boolean') return { ok: false, reason: 'malformed' };
      b64 = header.b64;
    }
    let valid: boolean;
    try {
      valid = verify('sha256', Buffer.from(`${protectedB64}.${payloadB64}`), this.publicKey, base64url(signatureB64));
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, reason: 'signature' };
    // A JWT must not use an unencoded payload.
    if (!b64) return { ok: false, reason: 'malformed' };
    const claims = parseObject(base64url(payloadB64)) as Claims | undefined;
    if (!claims) return { ok: false, reason: 'malformed' };
    const now = epoch(nowMs);
    if (claims.iat !== undefined && typeof claims.iat !== 'number') return { ok: false, reason: 'malformed' };
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + CLOCK_TOLERANCE_S)) return { ok: false, reason: 'not-yet-valid' };
    if (claims.exp !== undefined) {
      if (typeof claims.exp !== 'number') return { ok: false, reason: 'malformed' };
      if (claims.exp <= now - CLOCK_TOLERANCE_S) return { ok: false, reason: 'expired' };
    }
    return { ok: true, claims };
  }
}

const CLOCK_TOLERANCE_S = 300;
const VERIFIED_KEPT = 10_000;
/** As jose decodes: UTF-8 with replacement characters, a leading BOM dropped. */
const utf8 = new TextDecoder();

function base64url(s: string): Buffer {
  return Buffer.from(s, 'base64url');
}

/** A top-level JSON object, or undefined for anything else (invalid JSON, an array, a primitive). */
function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(utf8.decode(bytes));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds since the epoch, as jose reads a `currentDate` of `new Date(nowMs)`. */
function epoch(nowMs: number): number {
  return Math.floor(new Date(nowMs).getTime() / 1000);
}

/** The lifetime check of a full verification (exp, nbf, with the same tolerance), for a token verified before. */
function lifetime(claims: Claims, nowMs: number): VerifyResult {
  const now = epoch(nowMs);
  if (typeof claims.nbf === 'number' && claims.nbf > now + CLOCK_TOLERANCE_S) return { ok: false, reason: 'not-yet-valid' };
  if (typeof claims.exp === 'number' && claims.exp <= now - CLOCK_TOLERANCE_S) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** Pairwise `sub` as Entra computes it: stable per user and app, different across apps. */
export function pairwiseSub(oid: string, clientId: string): string {
  return createHash('sha256').update(`${oid}|${clientId}`).digest('base64url').slice(0, 43);
}

/** `client_info` lets MSAL build the home account id `oid.tid`. */
export function clientInfo(oid: string, tid: string): string {
  return Buffer.from(JSON.stringify({ uid: oid, utid: tid })).toString('base64url');
}
