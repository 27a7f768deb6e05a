/**
 * Where the tab gets the admin-consent link it shows after "an administrator must approve this
 * app": only from the server's answer for the signed-in user's tenant. The code of a failed round
 * trip arrives in the address bar or from the Teams popup, which anyone can craft; a link taken from
 * there would let a stranger's page put its own address into our remedy text.
 */
import { ApiError, catalogueError } from './api';

/** The failure code of a round trip: the first word of what /auth/end reported (nothing after it counts). */
export function consentFailureCode(reported: string): string {
  return reported.trim().split(/\s+/)[0] ?? '';
}

/**
 * The error to show: an ADMIN_APPROVAL_REQUIRED error gets its remedy rebuilt with the URL the
 * server built (or none yet, while it is loading); every other error is shown as it is.
 */
export function withServerConsentUrl(error: unknown, serverAdminConsentUrl: string | undefined): unknown {
  if (!(error instanceof ApiError) || error.code !== 'ADMIN_APPROVAL_REQUIRED') return error;
  return catalogueError(error.code, error.status, serverAdminConsentUrl ? { adminConsentUrl: serverAdminConsentUrl } : {});
}
