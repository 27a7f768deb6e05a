/** PKCE (RFC 7636) for the authorization-code round trip: a random verifier and its S256 challenge. */
import { createHash, randomBytes } from 'node:crypto';

export function makePkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}
