/**
 * Entra ID error responses as the real service words them: `AADSTSnnnn: text` plus trace and
 * correlation ids and a timestamp, in the body shape MSAL and the product parse.
 */
import { randomUUID } from 'node:crypto';
import { aadTimestamp } from './http';

export interface AadError {
  status: number;
  error: string;
  code: number;
  text: string;
  suberror?: string;
  claims?: string;
}

export interface AadErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
  claims?: string;
}

export function aadErrorBody(e: AadError, authorityHost: string, correlationId: string | undefined, now: Date): AadErrorBody {
  const traceId = randomUUID();
  const corr = correlationId && /^[0-9a-f-]{36}$/i.test(correlationId) ? correlationId : randomUUID();
  const ts = aadTimestamp(now);
  return {
    error: e.error,
    error_description: `AADSTS${e.code}: ${e.text} Trace ID: ${traceId} Correlation ID: ${corr} Timestamp: ${ts}`,
    error_codes: [e.code],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: corr,
    error_uri: `${authorityHost}/error?code=${e.code}`,
    ...(e.suberror ? { suberror: e.suberror } : {}),
    ...(e.claims ? { claims: e.claims } : {}),
  };
}

const e = (status: number, error: string, code: number, text: string, extra: Partial<AadError> = {}): AadError => ({ status, error, code, text, ...extra });

/** The catalogue, one function per situation. */
export const Aad = {
  missingParameter: (p: string) => e(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${p}'.`),
  postOnly: (method: string) => e(400, 'invalid_request', 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.`),
  unsupportedGrant: (g: string) => e(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${g}'.`),
  tenantNotFound: (t: string, error = 'invalid_tenant') =>
    e(
      400,
      error,
      90002,
      `Tenant '${t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  tenantMalformed: (t: string) =>
    e(400, 'invalid_request', 900023, `Specified tenant identifier '${t}' is neither a valid DNS name, nor a valid external domain.`),
  appNotFound: (clientId: string, tenantName: string) =>
    e(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenantName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  invalidSecret: (clientId: string) =>
    e(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    ),
  expiredSecret: (clientId: string) =>
    e(
      401,
      'invalid_client',
      7000222,
      `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
    ),
  missingCredential: () => e(401, 'invalid_client', 7000218, `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`),
  malformedGrant: () => e(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.'),
  grantInvalid: () => e(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.'),
  codeRedeemed: () =>
    e(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.'),
  codeExpired: () =>
    e(
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    ),
  redirectMismatchAtToken: (got: string, want: string) =>
    e(400, 'invalid_client', 500112, `The reply address '${got}' does not match the reply address '${want}' provided when requesting Authorization code.`),
  pkceMismatch: () => e(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),
  consentRequired: (clientId: string, appName: string) =>
    e(
      400,
      'invalid_grant',
      65001,
      `The user or administrator has not consented to use the application with ID '${clientId}' named '${appName}'. Send an interactive authorization request for this user and resource.`,
      { suberror: 'consent_required' },
    ),
  revoked: (issued: string, validFrom: string) =>
    e(
      400,
      'invalid_grant',
      50173,
      `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${validFrom}'.`,
    ),
  refreshExpired: (issued: string) =>
    e(400, 'invalid_grant', 700082, `The refresh token has expired due to inactivity. The token was issued on ${issued} and was inactive for 90.00:00:00.`),
  mfaRequired: (resource: string) =>
    e(
      400,
      'invalid_grant',
      50076,
      `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resource}'.`,
      {
        suberror: 'basic_action',
        claims: '{"access_token":{"capolids":{"essential":true,"values":["7d0b6a51-0000-4000-8000-000000000001"]}}}',
      },
    ),
  blockedByCa: () =>
    e(400, 'invalid_grant', 53003, 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.', {
      suberror: 'message_only',
    }),
  scopeNotDefault: (scope: string) =>
    e(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  invalidScope: (scope: string) =>
    e(
      400,
      'invalid_scope',
      70011,
      `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
    ),
  multipleResources: (scope: string) =>
    e(
      400,
      'invalid_request',
      28000,
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
    ),
  resourceNotFound: (resource: string, tenantName: string) =>
    e(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  assertionSignature: () => e(400, 'invalid_request', 50013, 'Assertion failed signature validation. [Reason - The key was not found.]'),
  assertionMalformed: () => e(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.'),
  assertionExpired: () =>
    e(
      400,
      'invalid_grant',
      500133,
      'Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.',
    ),
  assertionAudience: (aud: string, clientId: string) =>
    e(
      400,
      'invalid_grant',
      500131,
      `Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '${aud}' and the expected audience is '${clientId}' or one of the Application Id URIs of this application.`,
    ),
  userNotFound: (tenantName: string) =>
    e(
      400,
      'invalid_grant',
      50034,
      `The user account does not exist in the ${tenantName} directory. To sign into this application, the account must be added to the directory.`,
    ),
  transient: (status: number) => e(status, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.'),
  throttled: () =>
    e(429, 'temporarily_unavailable', 90055, 'TenantThrottlingError - There are too many incoming requests. This exception is thrown for blocked tenants.'),
  // Authorize endpoint (error page or error redirect)
  redirectMismatch: (uri: string, clientId: string) =>
    e(
      400,
      'invalid_request',
      50011,
      `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`,
    ),
  unsupportedResponseType: (t: string) => e(400, 'unsupported_response_type', 700054, `response_type '${t}' is not enabled for the application.`),
  badChallengeMethod: (m: string) => e(400, 'invalid_request', 501491, `Invalid code_challenge_method '${m}'. Use S256.`),
  declined: () => e(400, 'access_denied', 65004, 'User declined to consent to access the app.'),
  adminApproval: () => e(400, 'access_denied', 90094, 'The grant requires admin permission.'),
  loginRequired: () => e(400, 'login_required', 50058, 'A silent sign-in request was sent but no user is signed in.'),
  interactiveConsentRequired: (clientId: string, appName: string) =>
    e(
      400,
      'consent_required',
      65001,
      `The user or administrator has not consented to use the application with ID '${clientId}' named '${appName}'. Send an interactive authorization request for this user and resource.`,
    ),
};
