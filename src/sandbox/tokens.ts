/**
 * The sandbox's token signing key, its JWKS, and minting/verification of RS256 JWTs with the claims
 * Entra ID puts in v2.0 tokens. A new key per sandbox instance, unless a saved one is given back
 * (the persisted sandbox keeps its key so tokens issued before a restart still verify).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, exportJWK, jwtVerify, decodeProtectedHeader, errors as joseErrors, type JWK, type JWTPayload } from 'jose';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface Jwks {
  keys: (JWK & { kid: string; use: string; x5t: string; issuer: string })[];
}

export class TokenSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly kid: string,
    private readonly publicJwk: JWK,
  ) {}

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
  readonly #verified = new Map<string, JWTPayload & Record<string, unknown>>();

  async sign(claims: JWTPayload & Record<string, unknown>): Promise<string> {
    return new SignJWT({ uti: randomUUID().replace(/-/g, '').slice(0, 22), ...claims })
      .setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: this.kid })
      .sign(this.privateKey);
  }

  /**
   * Verify signature and lifetime (against `nowMs`, the sandbox clock). Returns a reason instead of
   * throwing so that callers can word the error the way the real service does.
   */
  async verify(
    token: string,
    nowMs: number,
  ): Promise<{ ok: true; claims: JWTPayload & Record<string, unknown> } | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'not-yet-valid' }> {
    if (token.split('.').length !== 3) return { ok: false, reason: 'malformed' };
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'RS256' || header.kid !== this.kid) return { ok: false, reason: 'signature' };
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const seen = this.#verified.get(token);
    if (seen) return lifetime(seen, nowMs);
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { algorithms: ['RS256'], currentDate: new Date(nowMs), clockTolerance: CLOCK_TOLERANCE_S });
      const claims = payload as JWTPayload & Record<string, unknown>;
      if (this.#verified.size >= VERIFIED_KEPT) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, claims);
      return { ok: true, claims };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') return { ok: false, reason: 'not-yet-valid' };
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'signature' };
      return { ok: false, reason: 'malformed' };
    }
  }
}

const CLOCK_TOLERANCE_S = 300;
const VERIFIED_KEPT = 10_000;

/** The lifetime check jose makes (exp, nbf, with the same tolerance), for a token verified before. */
function lifetime(
  claims: JWTPayload & Record<string, unknown>,
  nowMs: number,
): { ok: true; claims: JWTPayload & Record<string, unknown> } | { ok: false; reason: 'expired' | 'not-yet-valid' } {
  const now = Math.floor(nowMs / 1000);
  if (typeof claims.exp === 'number' && claims.exp <= now - CLOCK_TOLERANCE_S) return { ok: false, reason: 'expired' };
  if (typeof claims.nbf === 'number' && claims.nbf > now + CLOCK_TOLERANCE_S) return { ok: false, reason: 'not-yet-valid' };
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
