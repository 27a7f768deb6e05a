/**
 * The sandbox's Teams for proactive installation, as Graph answers it, and the product's installer
 * (src/graph/teams-install.ts) reading those answers: 201, 409, 403 without the role, 403 blocked by
 * policy, 404 without a Teams licence, the catalog id learnt from an installation or the catalog.
 */
import type { Sandbox } from '../../src/sandbox';
import { TeamsInstaller } from '../../src/graph/teams-install';
import { startTestSandbox } from '../helpers/sandbox';

const INSTALL = 'TeamsAppInstallation.ReadWriteSelfForUser.All';
const MEGAN = 'megan.bowen@contoso.com';
const ALEX = 'alex.wilber@contoso.com';

let sb: Sandbox;
beforeEach(async () => {
  sb = await startTestSandbox();
});
afterEach(async () => {
  await sb?.close();
});

const installer = () =>
  new TeamsInstaller({
    authorityHost: sb.authorityHost,
    graphEndpoint: sb.graphEndpoint,
    knownAuthorities: [sb.knownAuthority],
    clientId: sb.productApp.clientId,
    clientSecret: sb.productApp.clientSecret,
    teamsAppId: sb.teams.teamsAppId,
  });
const grant = (roles: string[]) => sb.control.setAppRoles({ clientId: sb.productApp.clientId, roles });

test('without the role Graph refuses, and the installer reads it as the permission not being granted', async () => {
  const i = installer();
  expect(await i.roles(sb.tenantId)).toEqual([]);
  expect(await i.install(sb.tenantId, MEGAN, 'any-catalog-id')).toEqual({ result: 'unreachable', reason: 'permission-not-granted' });
  expect(await i.catalogAppId(sb.tenantId, [])).toBeUndefined();
  expect(sb.teams.installations()).toEqual([]);
});

test('installs, answers 409 the second time, and names the catalog id through the installation', async () => {
  grant([INSTALL, 'AppCatalog.Read.All']);
  const i = installer();
  const catalogId = await i.catalogAppId(sb.tenantId, []);
  expect(catalogId).toMatch(/^[0-9a-f-]{36}$/);
  expect(catalogId).not.toBe(sb.teams.teamsAppId);
  expect(await i.install(sb.tenantId, MEGAN, catalogId!)).toEqual({ result: 'installed' });
  expect(await i.install(sb.tenantId, MEGAN, catalogId!)).toEqual({ result: 'already-installed' });
  expect(await installer().installation(sb.tenantId, MEGAN)).toEqual({ installed: true, catalogAppId: catalogId });
  expect(await installer().installation(sb.tenantId, ALEX)).toEqual({ installed: false });

  // Without the catalog role, someone who has the app tells the id.
  grant([INSTALL]);
  expect(await installer().catalogAppId(sb.tenantId, [MEGAN])).toBe(catalogId);
  expect(await installer().catalogAppId(sb.tenantId, [])).toBeUndefined();
});

test('a policy that blocks the app and a missing Teams licence read as such', async () => {
  grant([INSTALL, 'AppCatalog.Read.All']);
  const i = installer();
  const catalogId = (await i.catalogAppId(sb.tenantId, []))!;
  sb.teams.setAppBlocked({ upn: MEGAN, blocked: true });
  sb.teams.setTeamsLicense({ upn: ALEX, licensed: false });
  expect(await i.install(sb.tenantId, MEGAN, catalogId)).toEqual({ result: 'unreachable', reason: 'blocked-by-policy' });
  expect(await i.install(sb.tenantId, ALEX, catalogId)).toEqual({ result: 'unreachable', reason: 'no-teams-license' });
  expect(await i.install(sb.tenantId, 'lee.gu@contoso.com', 'not-in-the-catalog')).toEqual({ result: 'unreachable', reason: 'app-not-in-catalog' });
});

test('the Teams page shows each chat and is served to loopback clients', async () => {
  await sb.teams.install({ upn: MEGAN });
  const page = await fetch(sb.teams.pageUrl);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('/_sandbox/teams/adaptivecards.js');
  const chats = (await (await fetch(`${sb.teams.connectorUrl}_sandbox/teams/chats.json`)).json()) as { chats: Array<{ upn: string; messages: unknown[] }> };
  // No bot endpoint set: the install is recorded as Teams' two activities, nothing was delivered.
  expect(chats.chats).toEqual([expect.objectContaining({ upn: MEGAN, messages: [expect.anything(), expect.anything()] })]);
  const script = await fetch(`${sb.teams.connectorUrl}_sandbox/teams/adaptivecards.js`);
  expect(script.status).toBe(200);
  // Read to the end: an unread large body leaves its socket paused and open after the sandbox closes.
  await script.arrayBuffer();
});

test('a person drives it over HTTP too: /_control/teams/<method>', async () => {
  const post = (name: string, body: unknown) =>
    fetch(`${sb.authorityHost}/_control/teams/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await post('setAppBlocked', { upn: MEGAN, blocked: true })).status).toBe(200);
  expect((await post('install', { upn: ALEX })).status).toBe(200);
  const list = (await (await fetch(`${sb.authorityHost}/_control/teams/installations`)).json()) as { result: Array<{ userOid: string }> };
  expect(list.result).toHaveLength(1);
  expect((await post('setTeamsLicense', { upn: 'nobody@contoso.com', licensed: false })).status).toBe(400);
  expect((await post('nope', {})).status).toBe(404);
});
