/**
 * The tab's admin-consent link comes only from the server's answer, never from the address bar or
 * from what the auth popup reported.
 */
import { ApiError, catalogueError } from '../../tab/src/api';
import { consentFailureCode, withServerConsentUrl } from '../../tab/src/consent';

const SERVER_URL = 'https://login.microsoftonline.com/66305621-97b8-41f8-953b-d70d11d91d5b/adminconsent?client_id=abc';

describe('tab: the admin-consent link after a failed consent', () => {
  it('takes only the code from what /auth/end reported, ignoring a URL after it', () => {
    expect(consentFailureCode('ADMIN_APPROVAL_REQUIRED https://evil.example/phish')).toBe('ADMIN_APPROVAL_REQUIRED');
    expect(consentFailureCode('USER_CONSENT_REQUIRED')).toBe('USER_CONSENT_REQUIRED');
    expect(consentFailureCode('')).toBe('');
  });

  it('shows the URL the server built, and no URL while there is none', () => {
    // What an attacker's link would have produced on today's tab: their URL in our remedy.
    const crafted = catalogueError('ADMIN_APPROVAL_REQUIRED', 0, { adminConsentUrl: 'https://evil.example/phish' });
    const shown = withServerConsentUrl(crafted, SERVER_URL) as ApiError;
    expect(shown.remedy).toContain(SERVER_URL);
    expect(shown.remedy).not.toContain('evil.example');
    const loading = withServerConsentUrl(crafted, undefined) as ApiError;
    expect(loading.remedy).not.toContain('evil.example');
    expect(loading.remedy).toBe(catalogueError('ADMIN_APPROVAL_REQUIRED').remedy);
  });

  it('leaves every other error as it is', () => {
    const other = new ApiError('USER_CONSENT_REQUIRED', 'm', 'r', 0);
    expect(withServerConsentUrl(other, SERVER_URL)).toBe(other);
    expect(withServerConsentUrl('boom', SERVER_URL)).toBe('boom');
  });
});
