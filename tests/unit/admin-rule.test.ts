/** The one admin rule (src/domain/admin.ts) and how fresh a verified token's proof must be. */
import { ADMIN_APP_ROLE, DAY_MS, adminStanding, isAdmin } from '../../src/domain';

const HOME = '66305621-97b8-41f8-953b-d70d11d91d5b';
const OTHER = '2df7d45b-8f36-4ba1-b658-c800407568ea';
const rule = { adminUpns: ['ada@contoso.com'], homeTenantId: HOME };

describe('isAdmin', () => {
  test('the ConnectionCenter.Admin app role makes an admin in any tenant', () => {
    expect(isAdmin({ roles: [ADMIN_APP_ROLE], upn: 'kim@fabrikam.com', tenantId: OTHER }, rule)).toBe(true);
    expect(isAdmin({ roles: ['ConnectionCenter.AdminReader'], upn: 'kim@fabrikam.com', tenantId: OTHER }, rule)).toBe(false);
  });

  test('ADMIN_UPNS counts only in the home tenant', () => {
    expect(isAdmin({ roles: [], upn: 'ada@contoso.com', tenantId: HOME }, rule)).toBe(true);
    expect(isAdmin({ roles: [], upn: 'Ada@Contoso.com', tenantId: HOME.toUpperCase() }, rule)).toBe(true);
    // The same UPN from another organisation of a multi-tenant app is someone else.
    expect(isAdmin({ roles: [], upn: 'ada@contoso.com', tenantId: OTHER }, rule)).toBe(false);
    expect(isAdmin({ roles: [], upn: 'bob@contoso.com', tenantId: HOME }, rule)).toBe(false);
  });

  test('without a home tenant ADMIN_UPNS grants nothing', () => {
    expect(isAdmin({ roles: [], upn: 'ada@contoso.com', tenantId: HOME }, { adminUpns: ['ada@contoso.com'] })).toBe(false);
  });

  test('an empty UPN never matches', () => {
    expect(isAdmin({ roles: [], upn: '', tenantId: HOME }, { adminUpns: [''], homeTenantId: HOME })).toBe(false);
  });
});

describe('adminStanding', () => {
  const now = new Date('2026-11-26T10:00:00Z');
  const config = { ...rule, proofMaxDays: 7 };
  const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY_MS).toISOString();
  const admin = { roles: [ADMIN_APP_ROLE], upn: 'adele@contoso.com', tenantId: HOME };

  test('an admin proven within ADMIN_PROOF_MAX_DAYS is an admin', () => {
    expect(adminStanding({ ...admin, adminProvenAt: at(0) }, config, now)).toBe('admin');
    expect(adminStanding({ ...admin, adminProvenAt: at(7) }, config, now)).toBe('admin');
  });

  test('an admin proven longer ago, or never, must prove it again', () => {
    expect(adminStanding({ ...admin, adminProvenAt: at(8) }, config, now)).toBe('unproven');
    expect(adminStanding(admin, config, now)).toBe('unproven');
    expect(adminStanding({ ...admin, adminProvenAt: 'garbage' }, config, now)).toBe('unproven');
  });

  test('someone the rule does not make an admin is none, whatever the proof says', () => {
    expect(adminStanding(undefined, config, now)).toBe('none');
    expect(adminStanding({ roles: [], upn: 'megan@contoso.com', tenantId: HOME, adminProvenAt: at(0) }, config, now)).toBe('none');
    // ADMIN_UPNS changed since the proof: the rule is applied as configured now.
    expect(adminStanding({ roles: [], upn: 'ada@contoso.com', tenantId: HOME, adminProvenAt: at(0) }, { ...config, adminUpns: [] }, now)).toBe('none');
  });
});
