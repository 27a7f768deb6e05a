import { campaignTabUrl } from '../../bot/reach';
import { TAB_ENTITY_ID } from '../../src/services/bot-services';
import { hasReachPermission, inDomains, isNudgeKind, isTarget, nudgeDue, nudgeMilestone, nudgeStillDue } from '../../src/domain/reach';
import manifest from '../../appPackage/manifest.json';

const at = (iso: string) => new Date(iso);

describe('reach rules', () => {
  test('a user is targeted while some connection needs them and none works on Graph', () => {
    expect(isTarget([{ kind: 'ews-basic', state: 'connected' }])).toBe(true);
    expect(isTarget([{ kind: 'graph-delegated', state: 'needs-reconnect' }])).toBe(true);
    expect(isTarget([{ kind: 'graph-delegated', state: 'missing-permissions' }])).toBe(true);
    expect(isTarget([{ kind: 'ews-basic', state: 'disconnected' }])).toBe(false);
    expect(isTarget([{ kind: 'graph-app', state: 'failing' }])).toBe(false);
    // Reconnected: the legacy record left behind does not keep them targeted.
    expect(
      isTarget([
        { kind: 'ews-basic', state: 'connected' },
        { kind: 'graph-delegated', state: 'connected' },
      ]),
    ).toBe(false);
  });

  test('a queued nudge is still due at delivery until its user has done what it asks', () => {
    const broken = { kind: 'graph-delegated', state: 'needs-reconnect' } as const;
    const legacy = { kind: 'ews-basic', state: 'connected' } as const;
    const reconnected = { kind: 'graph-delegated', state: 'connected' } as const;
    // A health check's: until their Office 365 connection works again (a service account's does not count).
    expect(nudgeStillDue('connection.lost', [broken, legacy])).toBe(true);
    expect(
      nudgeStillDue('connection.lost', [
        { kind: 'graph-delegated', state: 'failing' },
        { kind: 'graph-app', state: 'connected' },
      ]),
    ).toBe(true);
    expect(nudgeStillDue('connection.lost', [reconnected, legacy])).toBe(false);
    // A reminder's: until they work on Microsoft Graph, whichever way.
    expect(nudgeStillDue('reconnect.nudge', [legacy])).toBe(true);
    expect(nudgeStillDue('reconnect.nudge', [legacy, reconnected])).toBe(false);
    expect(nudgeStillDue('reconnect.nudge', [legacy, { kind: 'graph-app', state: 'connected' }])).toBe(false);
    // Nothing stored for them: nothing says it is done, so it goes.
    expect(nudgeStillDue('connection.lost', [])).toBe(true);
    expect(nudgeStillDue('reconnect.nudge', [])).toBe(true);
    // Only the outbox kinds that carry a ReconnectNudge are asked about.
    expect(['connection.lost', 'reconnect.nudge', 'check.digest', 'test.failed'].map(isNudgeKind)).toEqual([true, true, false, false]);
  });

  test('domains narrow the campaign; none means everyone', () => {
    expect(inDomains('a@Contoso.com', ['contoso.com'])).toBe(true);
    expect(inDomains('a@fabrikam.com', ['contoso.com'])).toBe(false);
    expect(inDomains('a@fabrikam.com', undefined)).toBe(true);
  });

  test('the milestone follows the nearest deadline that breaks the connection', () => {
    expect(nudgeMilestone(['ews-basic'], at('2026-12-02T00:00:00Z'))).toBe('first'); // 120 days before EWS is removed
    expect(nudgeMilestone(['ews-basic'], at('2027-01-05T00:00:00Z'))).toBe('ews-removed@90');
    expect(nudgeMilestone(['ews-oauth'], at('2027-03-30T00:00:00Z'))).toBe('ews-removed@3');
    expect(nudgeMilestone(['graph-delegated'], at('2027-03-30T00:00:00Z'))).toBe('first');
  });

  test('a nudge is due first at once, then at a new milestone, never sooner than the minimum gap', () => {
    const now = at('2027-02-01T00:00:00Z');
    expect(nudgeDue(undefined, 'first', now, 3)).toBe(true);
    expect(nudgeDue({ lastNudgedAt: '2027-01-05T00:00:00Z', lastMilestone: 'ews-removed@60' }, 'ews-removed@60', now, 3)).toBe(false);
    expect(nudgeDue({ lastNudgedAt: '2027-01-05T00:00:00Z', lastMilestone: 'ews-removed@90' }, 'ews-removed@60', now, 3)).toBe(true);
    expect(nudgeDue({ lastNudgedAt: '2027-01-30T00:00:00Z', lastMilestone: 'ews-removed@90' }, 'ews-removed@60', now, 3)).toBe(false);
    expect(nudgeDue({ lastNudgedAt: '2027-01-29T00:00:00Z', lastMilestone: 'ews-removed@90' }, 'ews-removed@60', now, 3)).toBe(true);
  });

  test('the permission and the broader roles that include it are recognised', () => {
    expect(hasReachPermission(['teamsappinstallation.readwriteselfforuser.all'])).toBe(true);
    expect(hasReachPermission(['TeamsAppInstallation.ReadWriteForUser.All'])).toBe(true);
    expect(hasReachPermission(['TeamsAppInstallation.ReadForUser.All', 'Mail.Read'])).toBe(false);
  });
});

describe('the nudge link opens the personal tab', () => {
  test('the deep link names the tab the manifest declares', () => {
    expect(manifest.staticTabs.map((t) => t.entityId)).toContain(TAB_ENTITY_ID);
  });

  test('a Teams deep link carries the campaign mark as subEntityId; a web link as ?from=', () => {
    const teams = new URL(campaignTabUrl(`https://teams.microsoft.com/l/entity/00000000-0000-0000-0000-000000000abc/${TAB_ENTITY_ID}`));
    expect(JSON.parse(teams.searchParams.get('context')!)).toEqual({ subEntityId: 'reconnect-campaign' });
    expect(new URL(campaignTabUrl('http://localhost:3978/tab/')).searchParams.get('from')).toBe('reconnect-campaign');
  });
});
