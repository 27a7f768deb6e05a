import {
  applicationFeatureMatrix,
  delegatedFeatures,
  delegatedScopesFor,
  delegatedState,
  diagnoseAuthorizeError,
  diagnoseGraphError,
  diagnoseTokenError,
  aadstsNumber,
  daysUntil,
  nextDeadlineFor,
  looksLikeSecretId,
  ERROR_CATALOGUE,
  AppError,
  legacyFeatures,
  appOnlyFeatures,
} from '../../src/domain';
import { formatLongDate } from '../../src/domain/deadlines';

describe('permission matrix', () => {
  it('asks for sign-in scopes plus each enabled feature’s scopes, once', () => {
    expect(delegatedScopesFor(['emailSync', 'calendarScheduling'])).toEqual([
      'openid',
      'profile',
      'offline_access',
      'User.Read',
      'Mail.ReadWrite',
      'Calendars.ReadWrite',
    ]);
    expect(delegatedScopesFor(['taskSync'])).toContain('Tasks.ReadWrite');
  });

  it('derives app-only verdicts from the roles claim; Task Sync is never available app-only', () => {
    const m = applicationFeatureMatrix(['Mail.Read', 'Calendars.Read', 'Calendars.ReadWrite']);
    expect(m.calendarSync).toMatchObject({ available: true, missing: [] });
    expect(m.emailSync).toMatchObject({ available: false, missing: ['Mail.ReadWrite'], granted: ['Mail.Read'] });
    expect(m.calendarScheduling.missing).toEqual(['Mail.ReadWrite']);
    expect(m.taskSync.available).toBe(false);
    expect(m.taskSync.reason).toMatch(/not supported through the service account/);
  });

  it('compares scopes case-insensitively and without the Graph resource prefix', () => {
    const features = delegatedFeatures(['https://graph.microsoft.com/mail.readwrite', 'User.Read'], 'connected');
    expect(features.emailSync.available).toBe(true);
    expect(features.calendarSync).toEqual({ available: false, reason: 'Permission not granted: Calendars.ReadWrite.' });
  });
});

describe('connection state', () => {
  const all = ['emailSync', 'calendarSync', 'calendarScheduling', 'taskSync'] as const;
  const full = ['Mail.ReadWrite', 'Calendars.ReadWrite', 'Tasks.ReadWrite'];
  it('is connected with every scope, missing-permissions with a partial grant', () => {
    expect(delegatedState(full, [...all])).toBe('connected');
    expect(delegatedState(['Mail.ReadWrite'], [...all])).toBe('missing-permissions');
    expect(delegatedState(['Mail.ReadWrite'], ['emailSync'])).toBe('connected');
  });
  it('never says needs-reconnect because Graph was down or throttling', () => {
    expect(delegatedState(full, [...all], 'GRAPH_UNAVAILABLE')).toBe('unknown');
    expect(delegatedState(full, [...all], 'THROTTLED')).toBe('unknown');
    expect(delegatedState(full, [...all], 'REFRESH_TOKEN_REVOKED')).toBe('needs-reconnect');
    expect(delegatedState(full, [...all], 'ACCESS_DENIED')).toBe('failing');
  });
  it('explains legacy and app-only features', () => {
    expect(legacyFeatures('ews-basic', 'connected', '2027-04-01').emailSync.reason).toContain('1 April 2027');
    expect(legacyFeatures('ews-basic', 'connected', '2027-04-01').taskSync.available).toBe(false);
    expect(appOnlyFeatures(['Mail.Read', 'Mail.ReadWrite'], 'connected', ['emailSync']).emailSync.available).toBe(true);
    expect(appOnlyFeatures(['Mail.Read'], 'connected', ['emailSync']).emailSync.reason).toContain('Mail.ReadWrite');
  });
});

describe('deadlines', () => {
  const now = new Date('2026-11-26T15:00:00Z');
  it('counts whole UTC days', () => {
    expect(daysUntil('2027-04-01', now)).toBe(126);
    expect(daysUntil('2026-11-26', now)).toBe(0);
    expect(daysUntil('2022-10-01', now)).toBeLessThan(0);
  });
  it('picks the next deadline that affects the kind', () => {
    expect(nextDeadlineFor('ews-basic', now)).toMatchObject({ date: '2027-04-01', daysLeft: 126 });
    expect(nextDeadlineFor('ews-oauth', now)).toMatchObject({ date: '2027-04-01', daysLeft: 126 });
    expect(nextDeadlineFor('graph-delegated', now)).toBeUndefined();
  });
  it('writes dates as "1 April 2027" in every month, whatever the time zone, and leaves what is not a date alone', () => {
    const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
    months.forEach((month, i) => expect(formatLongDate(`2027-${String(i + 1).padStart(2, '0')}-01`)).toBe(`1 ${month} 2027`));
    expect(formatLongDate('2026-12-31T23:30:00-05:00')).toBe('31 December 2026');
    expect(formatLongDate('soon')).toBe('soon');
  });
});

describe('diagnosis', () => {
  it.each([
    [{ aadsts: 7000215 }, 'SECRET_ID_NOT_VALUE'],
    [{ aadsts: 7000222 }, 'SECRET_EXPIRED'],
    [{ aadsts: 700016 }, 'APP_NOT_FOUND_IN_TENANT'],
    [{ aadsts: 90002 }, 'TENANT_NOT_FOUND'],
    [{ aadsts: 900023 }, 'TENANT_NOT_FOUND'],
    [{ aadsts: 65001, subError: 'consent_required' }, 'USER_CONSENT_REQUIRED'],
    [{ aadsts: 90094 }, 'ADMIN_APPROVAL_REQUIRED'],
    [{ aadsts: 50173 }, 'REFRESH_TOKEN_REVOKED'],
    [{ aadsts: 700082 }, 'REFRESH_TOKEN_REVOKED'],
    [{ aadsts: 50076 }, 'MFA_OR_CONDITIONAL_ACCESS'],
    [{ aadsts: 530003 }, 'MFA_OR_CONDITIONAL_ACCESS'],
    [{ error: 'invalid_grant', grant: 'refresh_token' as const }, 'REFRESH_TOKEN_REVOKED'],
    [{ status: 503 }, 'GRAPH_UNAVAILABLE'],
    [{ unreachable: true }, 'GRAPH_UNAVAILABLE'],
  ])('token error %j → %s', (facts, code) => {
    expect(diagnoseTokenError(facts)).toBe(code);
  });

  it('reads AADSTS numbers from texts, arrays and MSAL errorNo', () => {
    expect(aadstsNumber({ text: 'AADSTS7000215: Invalid client secret provided.' })).toBe(7000215);
    expect(aadstsNumber({ errorCodes: [700016] })).toBe(700016);
    expect(aadstsNumber({ errorNo: '90002' })).toBe(90002);
    expect(aadstsNumber({ text: 'nothing here' })).toBeUndefined();
  });

  it.each([
    [{ status: 403, code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' }, 'ACCESS_DENIED'],
    [
      { status: 403, code: 'ErrorAccessDenied', message: 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.' },
      'ACCESS_POLICY_DENIED',
    ],
    [
      { status: 404, code: 'MailboxNotEnabledForRESTAPI', message: 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.' },
      'MAILBOX_NOT_REST_ENABLED',
    ],
    [{ status: 404, code: 'Request_ResourceNotFound', message: "Resource 'x@contoso.com' does not exist" }, 'TEST_ACCOUNT_NOT_FOUND'],
    [{ status: 401, code: 'InvalidAuthenticationToken' }, 'INVALID_TOKEN'],
    [{ status: 429, code: 'ApplicationThrottled' }, 'THROTTLED'],
    [{ status: 502 }, 'GRAPH_UNAVAILABLE'],
  ])('graph error %j → %s', (facts, code) => {
    expect(diagnoseGraphError(facts)).toBe(code);
  });

  it('recognises a Secret ID (a GUID) but not a Secret Value', () => {
    expect(looksLikeSecretId('79345376-8a3d-4a4a-8f6c-878503bb29c6')).toBe(true);
    expect(looksLikeSecretId('demo-sync-2026-sandbox-only-value')).toBe(false);
  });
});

describe('error catalogue', () => {
  it('gives every 4xx code a remedy a person can act on, and 5xx codes a generic message', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(entry.message.length).toBeGreaterThan(10);
      if (!['NOT_FOUND', 'METHOD_NOT_ALLOWED'].includes(code)) expect((entry as { remedy?: string }).remedy).toMatch(/\w+.*[.)]$/);
    }
  });
  it('builds the envelope body from the catalogue', () => {
    const e = new AppError('SECRET_ID_NOT_VALUE');
    expect(e.status).toBe(400);
    expect(e.toBody()).toEqual({
      code: 'SECRET_ID_NOT_VALUE',
      message: ERROR_CATALOGUE.SECRET_ID_NOT_VALUE.message,
      remedy: ERROR_CATALOGUE.SECRET_ID_NOT_VALUE.remedy,
    });
  });
});

describe('errors Entra sends to the redirect URI', () => {
  const consent = (error: string, description?: string) => diagnoseAuthorizeError({ error, description, flow: 'consent' });
  const signIn = (error: string, description?: string) => diagnoseAuthorizeError({ error, description, flow: 'sign-in' });
  it('names a wrong App ID URI in either flow', () => {
    expect(consent('invalid_request', 'AADSTS500011: The resource principal named api://x was not found')).toBe('APP_ID_URI_MISMATCH');
    expect(signIn('invalid_resource')).toBe('APP_ID_URI_MISMATCH');
  });
  it('tells admin approval and MFA / Conditional Access apart from a refused consent', () => {
    expect(consent('access_denied', 'AADSTS90094: The grant requires admin permission.')).toBe('ADMIN_APPROVAL_REQUIRED');
    expect(consent('interaction_required', 'AADSTS50076: Due to a configuration change')).toBe('MFA_OR_CONDITIONAL_ACCESS');
    expect(consent('access_denied', 'AADSTS53003: Access has been blocked by Conditional Access policies.')).toBe('MFA_OR_CONDITIONAL_ACCESS');
    expect(consent('access_denied', 'AADSTS65004: User declined to consent')).toBe('USER_CONSENT_REQUIRED');
    expect(consent('server_error')).toBe('USER_CONSENT_REQUIRED');
  });
  it('reads a refused sign-in as missing consent and anything else as an unusable sign-in', () => {
    expect(signIn('access_denied')).toBe('USER_CONSENT_REQUIRED');
    expect(signIn('server_error')).toBe('INVALID_TOKEN');
  });
});
