/**
 * Maps what Entra ID and Microsoft Graph actually say to one catalogue code (the codes and their remedies: docs/errors.md).
 * Pure: callers pass the fields they pulled out of MSAL errors, token error bodies or Graph responses.
 */
import type { ErrorCode } from './errors';
import { isGuid } from './formats';

const AADSTS_CODES: Record<number, ErrorCode> = {
  7000215: 'SECRET_ID_NOT_VALUE',
  7000222: 'SECRET_EXPIRED',
  700016: 'APP_NOT_FOUND_IN_TENANT',
  90002: 'TENANT_NOT_FOUND',
  900023: 'TENANT_NOT_FOUND',
  65001: 'USER_CONSENT_REQUIRED',
  65004: 'USER_CONSENT_REQUIRED', // user declined consent
  90094: 'ADMIN_APPROVAL_REQUIRED',
  90095: 'ADMIN_APPROVAL_REQUIRED',
  50173: 'REFRESH_TOKEN_REVOKED',
  50133: 'REFRESH_TOKEN_REVOKED',
  700082: 'REFRESH_TOKEN_REVOKED',
  70008: 'REFRESH_TOKEN_REVOKED',
  70043: 'REFRESH_TOKEN_REVOKED',
  50076: 'MFA_OR_CONDITIONAL_ACCESS',
  50079: 'MFA_OR_CONDITIONAL_ACCESS',
  53003: 'MFA_OR_CONDITIONAL_ACCESS',
  530003: 'MFA_OR_CONDITIONAL_ACCESS',
};

/** Pull the AADSTS number out of `AADSTS7000215: …` texts or an `error_codes` array. */
export function aadstsNumber(input: { errorCodes?: readonly (number | string)[]; text?: string; errorNo?: string | number }): number | undefined {
  if (input.errorNo !== undefined && input.errorNo !== '' && !Number.isNaN(Number(input.errorNo))) return Number(input.errorNo);
  const first = input.errorCodes?.[0];
  if (first !== undefined && !Number.isNaN(Number(first))) return Number(first);
  const m = input.text?.match(/AADSTS(\d+)/);
  return m ? Number(m[1]) : undefined;
}

export interface TokenErrorFacts {
  /** OAuth `error`, e.g. invalid_client, invalid_grant, interaction_required. */
  error?: string;
  subError?: string;
  aadsts?: number;
  /** HTTP status of the token endpoint, when known. */
  status?: number;
  /** The request never got an answer (network error, timeout). */
  unreachable?: boolean;
  /** Which grant failed: a refresh that fails with invalid_grant means the user must reconnect. */
  grant?: 'authorization_code' | 'refresh_token' | 'client_credentials' | 'on_behalf_of';
}

export function diagnoseTokenError(f: TokenErrorFacts): ErrorCode {
  if (f.unreachable) return 'GRAPH_UNAVAILABLE';
  if (f.status !== undefined && f.status >= 500) return 'GRAPH_UNAVAILABLE';
  if (f.status === 429) return 'THROTTLED';
  if (f.aadsts !== undefined && AADSTS_CODES[f.aadsts]) return AADSTS_CODES[f.aadsts];
  if (f.subError === 'consent_required' || f.error === 'consent_required') return 'USER_CONSENT_REQUIRED';
  if (f.error === 'access_denied') return 'USER_CONSENT_REQUIRED';
  if (f.error === 'invalid_grant' && (f.grant === 'refresh_token' || f.grant === undefined)) return 'REFRESH_TOKEN_REVOKED';
  // A code already redeemed (AADSTS54005), a PKCE mismatch (501481): the sign-in link is spent, start again.
  if (f.error === 'invalid_grant' && f.grant === 'authorization_code') return 'AUTH_STATE_INVALID';
  if (f.error === 'invalid_tenant') return 'TENANT_NOT_FOUND';
  if (f.error === 'unauthorized_client') return 'APP_NOT_FOUND_IN_TENANT';
  if (f.error === 'invalid_client') return 'SECRET_ID_NOT_VALUE';
  if (f.error === 'interaction_required' || f.subError === 'basic_action') return 'MFA_OR_CONDITIONAL_ACCESS';
  return 'GRAPH_UNAVAILABLE';
}

/**
 * The error Entra sends to the redirect URI (`error`, `error_description`) instead of a code.
 * An unknown resource (AADSTS500011, `invalid_resource`) means the App ID URI derived from
 * TAB_ENDPOINT is not the one registered: a configuration error, whatever the flow. For consent,
 * admin approval and MFA / Conditional Access are told apart; any other refusal means the user did
 * not consent. For sign-in, a refusal is a missing consent and anything else an unusable sign-in.
 */
export function diagnoseAuthorizeError(f: { error: string; description?: string; flow: 'consent' | 'sign-in' }): ErrorCode {
  const aadsts = aadstsNumber({ text: f.description });
  if (aadsts === 500011 || f.error === 'invalid_resource') return 'APP_ID_URI_MISMATCH';
  if (f.flow === 'sign-in') return f.error === 'access_denied' ? 'USER_CONSENT_REQUIRED' : 'INVALID_TOKEN';
  const known = aadsts === undefined ? undefined : AADSTS_CODES[aadsts];
  if (known === 'ADMIN_APPROVAL_REQUIRED' || known === 'MFA_OR_CONDITIONAL_ACCESS') return known;
  return 'USER_CONSENT_REQUIRED';
}

export interface GraphErrorFacts {
  status: number;
  /** Graph's `error.code`, e.g. ErrorAccessDenied, MailboxNotEnabledForRESTAPI. */
  code?: string;
  message?: string;
}

export function diagnoseGraphError(f: GraphErrorFacts): ErrorCode {
  const code = (f.code ?? '').toLowerCase();
  const message = f.message ?? '';
  if (f.status === 429 || code === 'applicationthrottled' || code === 'toomanyrequests') return 'THROTTLED';
  if (f.status >= 500 || f.status === 0) return 'GRAPH_UNAVAILABLE';
  if (f.status === 401) return code === 'invalidauthenticationtoken' ? 'INVALID_TOKEN' : 'INVALID_TOKEN';
  if (f.status === 403) {
    if (/\[RAOP\]|AccessPolicy/i.test(message)) return 'ACCESS_POLICY_DENIED';
    return 'ACCESS_DENIED';
  }
  if (f.status === 404) {
    if (code === 'mailboxnotenabledforrestapi' || /MailboxNotEnabledForRESTAPI/i.test(message)) return 'MAILBOX_NOT_REST_ENABLED';
    if (
      code === 'request_resourcenotfound' ||
      code === 'resourcenotfound' ||
      code === 'errorinvaliduser' ||
      code === 'erroritemnotfound' ||
      /does not exist|not found/i.test(message)
    ) {
      return 'TEST_ACCOUNT_NOT_FOUND';
    }
  }
  return 'GRAPH_UNAVAILABLE';
}

/** A Secret ID is a GUID; a Secret Value never is. Catch the classic mistake before any network call. */
export function looksLikeSecretId(secret: string): boolean {
  return isGuid(secret);
}
