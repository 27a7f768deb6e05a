/** The pure parts of the identity and Graph layer: error mapping, PKCE, host handling. */
import { createHash } from 'node:crypto';
import { ClientAuthError, ClientConfigurationError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { GraphError } from '@microsoft/microsoft-graph-client';
import { AppError } from '../../src/domain/errors';
import { knownAuthoritiesFor } from '../../src/identity/msal-client';
import { mapMsalError } from '../../src/identity/msal-errors';
import { makePkce } from '../../src/identity/pkce';
import { bareScopes, grantedSubset, grantedTargetsIn } from '../../src/identity/scopes';
import { rolesOf } from '../../src/identity/service-account';
import { accountsIn, toAccountInfo } from '../../src/identity/token-cache';
import { batchItemError, customHostsFor, graphErrorFacts, fromGraphFailure } from '../../src/graph/client';
import { FEATURE_PROBES } from '../../src/graph/probes';

const server = (error: string, errorNo: string, description: string, status?: number) =>
  new ServerError(
    error,
    'corr',
    `Error(s): ${errorNo} - Timestamp: x - Description: AADSTS${errorNo}: ${description} - Correlation ID: y`,
    undefined,
    errorNo,
    status,
  );

describe('mapMsalError', () => {
  it.each([
    [
      'invalid_client',
      '7000215',
      'SECRET_ID_NOT_VALUE',
      'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID',
    ],
    ['invalid_client', '7000222', 'SECRET_EXPIRED', 'The provided client secret keys for app are expired.'],
    ['unauthorized_client', '700016', 'APP_NOT_FOUND_IN_TENANT', "Application with identifier 'x' was not found in the directory 'y'."],
    ['invalid_request', '90002', 'TENANT_NOT_FOUND', "Tenant 'nope' not found."],
    ['invalid_request', '900023', 'TENANT_NOT_FOUND', 'Specified tenant identifier is neither a valid DNS name, nor a valid external domain.'],
  ] as const)('client credentials %s AADSTS%s → %s', (error, no, code, text) => {
    const mapped = mapMsalError(server(error, no, text), { grant: 'client_credentials', network: { lastStatus: 401, unreachable: false } });
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped.code).toBe(code);
  });

  it('a revoked refresh token (invalid_grant AADSTS50173) means reconnect', () => {
    const err = new ServerError('invalid_grant', 'c', 'AADSTS50173: The provided grant has expired due to it being revoked', undefined, '50173');
    expect(mapMsalError(err, { grant: 'refresh_token', network: { lastStatus: 400, unreachable: false } }).code).toBe('REFRESH_TOKEN_REVOKED');
  });

  it('invalid_grant on refresh without a known AADSTS number still means reconnect', () => {
    const err = new InteractionRequiredAuthError('invalid_grant', 'c', 'The refresh token is invalid', 'bad_token');
    expect(mapMsalError(err, { grant: 'refresh_token' }).code).toBe('REFRESH_TOKEN_REVOKED');
  });

  it('consent and MFA come from InteractionRequiredAuthError sub-errors and numbers', () => {
    const consent = new InteractionRequiredAuthError(
      'invalid_grant',
      'c',
      'AADSTS65001: The user or administrator has not consented',
      'consent_required',
      '',
      '',
      '',
      '65001',
    );
    expect(mapMsalError(consent, { grant: 'refresh_token' }).code).toBe('USER_CONSENT_REQUIRED');
    const mfa = new InteractionRequiredAuthError(
      'interaction_required',
      'c',
      'AADSTS50076: Due to a configuration change made by your administrator',
      'basic_action',
      '',
      '',
      '',
      '50076',
    );
    expect(mapMsalError(mfa, { grant: 'refresh_token' }).code).toBe('MFA_OR_CONDITIONAL_ACCESS');
  });

  it('a 5xx from the token endpoint is an outage, never a revoked grant', () => {
    const err = new ServerError('invalid_grant', 'c', 'temporarily_unavailable', undefined, undefined);
    expect(mapMsalError(err, { grant: 'refresh_token', network: { lastStatus: 503, unreachable: false } }).code).toBe('GRAPH_UNAVAILABLE');
  });

  it('an unreachable authority is GRAPH_UNAVAILABLE; 429 is THROTTLED', () => {
    const net = new ClientAuthError('network_error', 'c');
    expect(mapMsalError(net, { grant: 'refresh_token', network: { lastStatus: undefined, unreachable: true } }).code).toBe('GRAPH_UNAVAILABLE');
    expect(mapMsalError(net, { grant: 'refresh_token', network: { lastStatus: 429, unreachable: false } }).code).toBe('THROTTLED');
    const s429 = new ServerError('', 'c', 'too many requests', undefined, undefined, 429);
    expect(mapMsalError(s429, { grant: 'client_credentials' }).code).toBe('THROTTLED');
  });

  it('no cached tokens means the user must connect again; a nonce mismatch is a bad sign-in state', () => {
    expect(mapMsalError(new InteractionRequiredAuthError('no_tokens_found', 'c'), { grant: 'refresh_token' }).code).toBe('REFRESH_TOKEN_REVOKED');
    expect(mapMsalError(new ClientAuthError('nonce_mismatch', 'c'), { grant: 'authorization_code' }).code).toBe('AUTH_STATE_INVALID');
  });

  it('configuration errors are ours, not the user’s', () => {
    expect(mapMsalError(new ClientConfigurationError('authority_uri_insecure', 'c'), { grant: 'refresh_token' }).code).toBe('INTERNAL');
  });

  it('keeps the raw error only as detail, scrubbed of tokens', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const err = new ServerError('invalid_grant', 'c', `AADSTS50173: revoked refresh_token=abc123 ${jwt}`, undefined, '50173');
    const mapped = mapMsalError(err, { grant: 'refresh_token' });
    expect(mapped.message).not.toContain('AADSTS');
    const detail = JSON.stringify(mapped.detail);
    expect(detail).toContain('50173');
    expect(detail).not.toContain(jwt);
    expect(detail).not.toContain('abc123');
    expect(mapped.toBody()).toEqual({ code: 'REFRESH_TOKEN_REVOKED', message: expect.any(String), remedy: expect.any(String) });
  });

  it('passes an AppError through unchanged', () => {
    const e = new AppError('TENANT_NOT_FOUND');
    expect(mapMsalError(e, { grant: 'client_credentials' })).toBe(e);
  });
});

function graphError(status: number, code: string, message: string): GraphError {
  const e = new GraphError(status, message);
  e.code = code;
  return e;
}

describe('fromGraphFailure (Graph)', () => {
  it.each([
    [403, 'ErrorAccessDenied', 'ACCESS_DENIED', 'Access is denied. Check credentials and try again.'],
    [403, 'ErrorAccessDenied', 'ACCESS_POLICY_DENIED', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.'],
    [404, 'MailboxNotEnabledForRESTAPI', 'MAILBOX_NOT_REST_ENABLED', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.'],
    [
      404,
      'Request_ResourceNotFound',
      'TEST_ACCOUNT_NOT_FOUND',
      "Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present.",
    ],
    [429, 'ApplicationThrottled', 'THROTTLED', 'Application is over its MailboxConcurrency limit.'],
    [503, 'ServiceUnavailable', 'GRAPH_UNAVAILABLE', 'Service Unavailable'],
    [401, 'InvalidAuthenticationToken', 'INVALID_TOKEN', 'Access token has expired or is not yet valid.'],
  ] as const)('%i %s → %s', (status, code, expected, message) => {
    expect(fromGraphFailure(graphError(status, code, message)).code).toBe(expected);
  });

  it('a network failure (no status) is GRAPH_UNAVAILABLE', () => {
    const e = new GraphError(-1, 'fetch failed');
    e.code = 'TypeError';
    expect(fromGraphFailure(e).code).toBe('GRAPH_UNAVAILABLE');
  });

  it('reads batch items and raw bodies the same way', () => {
    expect(graphErrorFacts(403, '{"error":{"code":"ErrorAccessDenied","message":"Access to OData is disabled: [RAOP] x"}}')).toEqual({
      status: 403,
      code: 'ErrorAccessDenied',
      message: 'Access to OData is disabled: [RAOP] x',
    });
    expect(batchItemError({ id: '1', status: 200, headers: {} })).toBeUndefined();
    expect(batchItemError({ id: '1', status: 404, headers: {}, body: { error: { code: 'MailboxNotEnabledForRESTAPI', message: 'x' } } })).toBe(
      'MAILBOX_NOT_REST_ENABLED',
    );
    expect(batchItemError({ id: '1', status: 429, headers: { 'Retry-After': '1' }, body: { error: { code: 'ApplicationThrottled', message: 'x' } } })).toBe(
      'THROTTLED',
    );
  });
});

describe('helpers', () => {
  it('makePkce gives an S256 pair', () => {
    const { verifier, challenge } = makePkce();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
    expect(makePkce().verifier).not.toBe(verifier);
  });

  it('customHosts are host names without the port (the SDK strips the port before comparing)', () => {
    expect([...customHostsFor('https://127.0.0.1:8443')]).toEqual(['127.0.0.1']);
    expect([...customHostsFor('https://graph.microsoft.us/')]).toEqual(['graph.microsoft.us']);
  });

  it('knownAuthorities default to host:port for a non-Microsoft authority only', () => {
    expect(knownAuthoritiesFor('https://127.0.0.1:9443')).toEqual(['127.0.0.1:9443']);
    expect(knownAuthoritiesFor('https://login.microsoftonline.com')).toBeUndefined();
    expect(knownAuthoritiesFor('https://login.microsoftonline.com', ['x:1'])).toEqual(['x:1']);
  });

  it('bareScopes strips the Graph resource prefix', () => {
    expect(
      bareScopes(['https://graph.microsoft.com/Mail.ReadWrite', 'User.Read', 'User.Read', '00000003-0000-0000-c000-000000000000/Tasks.ReadWrite']),
    ).toEqual(['Mail.ReadWrite', 'User.Read', 'Tasks.ReadWrite']);
  });

  it('silent requests are narrowed to the scopes the partition holds', () => {
    const serialized = JSON.stringify({
      AccessToken: {
        a: { home_account_id: 'o.t', target: 'User.Read Calendars.ReadWrite openid profile' },
        b: { home_account_id: 'other.t', target: 'Mail.ReadWrite' },
      },
    });
    const granted = grantedTargetsIn(serialized, 'o.t');
    expect([...granted].sort()).toEqual(['calendars.readwrite', 'openid', 'profile', 'user.read']);
    expect(grantedSubset(['openid', 'offline_access', 'User.Read', 'Mail.ReadWrite', 'Calendars.ReadWrite'], granted)).toEqual([
      'User.Read',
      'Calendars.ReadWrite',
    ]);
    expect(grantedSubset(['Mail.ReadWrite'], granted).sort()).toEqual(['calendars.readwrite', 'user.read']);
    expect(grantedSubset(['Mail.ReadWrite'], new Set())).toEqual(['Mail.ReadWrite']);
  });

  it('rolesOf decodes the roles claim and tolerates garbage', () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    expect(rolesOf(`${b64({ alg: 'none' })}.${b64({ roles: ['Mail.Read', 7] })}.`)).toEqual(['Mail.Read']);
    expect(rolesOf('not-a-jwt')).toEqual([]);
  });

  it('rebuilds the account from a serialized partition', () => {
    const serialized = JSON.stringify({
      Account: {
        k: {
          home_account_id: 'o.t',
          environment: 'login.example:443',
          realm: 't',
          local_account_id: 'o',
          username: 'a@b.c',
          authority_type: 'MSSTS',
          name: 'A',
        },
      },
    });
    const [acct] = accountsIn(serialized);
    expect(toAccountInfo(acct)).toEqual({
      homeAccountId: 'o.t',
      environment: 'login.example:443',
      tenantId: 't',
      username: 'a@b.c',
      localAccountId: 'o',
      name: 'A',
    });
    expect(accountsIn('{not json')).toEqual([]);
  });

  it('Calendar Scheduling probes mail and calendar', () => {
    expect([...FEATURE_PROBES.calendarScheduling].sort()).toEqual(['calendar', 'events', 'inbox']);
  });
});
