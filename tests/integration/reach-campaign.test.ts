/**
 * Reach, end to end through the sandbox: the product's app installs the bot over Graph
 * (teamwork/installedApps), the sandbox's Teams stand-in announces each chat to /api/messages, and
 * what the bot sends is read back from that chat.
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

const INSTALL = 'TeamsAppInstallation.ReadWriteSelfForUser.All';
const ADMIN = 'adele.vance@contoso.com';
/** Seeded legacy / needs-reconnect / missing-permissions connections (johanna's is disconnected). */
const TARGETS = [
  'alex.wilber@contoso.com',
  'diego.siciliani@contoso.com',
  'grady.archie@contoso.com',
  'lee.gu@contoso.com',
  'lidia.holloway@contoso.com',
  'lynne.robbins@contoso.com',
  'megan.bowen@contoso.com',
  'nestor.wilke@contoso.com',
  'pradeep.gupta@contoso.com',
];
const DAY = 86_400_000;

let product: TestProduct;
/** The product's clock (the campaign's cadence); tokens keep the real time. */
let offsetMs = 0;

async function start(at?: string): Promise<void> {
  offsetMs = 0;
  product = await startTestProduct({ now: () => new Date(Date.now() + offsetMs) });
  if (at) await advance(Date.parse(at) - Date.now());
}

async function advance(ms: number): Promise<void> {
  offsetMs += ms;
}

afterEach(async () => {
  await product?.close();
});

const tenant = () => product.sandbox.tenantId.toLowerCase();
const grant = (roles: string[]) => product.sandbox.control.setAppRoles({ roles, clientId: product.identity.clientId });
/** Cards the bot posted in a user's chat, by template name (read from the card's texts). */
function cards(upn: string): Array<{ title: string; texts: string[]; urls: string[] }> {
  const chat = product.sandbox.teams.chat(upn);
  return (chat?.messages ?? [])
    .filter((m) => m.from === 'bot')
    .flatMap((m) => ((m.activity.attachments as Array<{ content: unknown }>) ?? []).map((a) => a.content))
    .map((card) => {
      const json = JSON.stringify(card);
      const texts = [...json.matchAll(/"text":"((?:[^"\\]|\\.)*)"/g)].map((x) => JSON.parse(`"${x[1]}"`) as string);
      const urls = [...json.matchAll(/"url":"((?:[^"\\]|\\.)*)"/g)].map((x) => JSON.parse(`"${x[1]}"`) as string);
      return { title: texts[0] ?? '', texts, urls };
    });
}
const nudges = (upn: string) => cards(upn).filter((c) => /please reconnect/.test(c.title));
const welcomes = (upn: string) => cards(upn).filter((c) => c.title === 'Welcome to Connection Center');
async function campaign(action?: string, extra: Record<string, unknown> = {}) {
  const token = await product.ssoToken(ADMIN);
  const res = action
    ? await product.call('POST', '/api/admin/campaign', { token, body: { action, ...extra } })
    : await product.call('GET', '/api/admin/campaign', { token });
  expect(res.status).toBe(200);
  await product.bot.notifier.drain();
  return res.body.campaign;
}

test('an admin gets the bot without looking for it, is welcomed once, and is not reinstalled after removing it', async () => {
  await start();
  grant([INSTALL, 'AppCatalog.Read.All']);

  expect(await product.campaign.ensureAdmins(tenant())).toEqual({ installed: [ADMIN], unreachable: [] });
  const welcome = welcomes(ADMIN);
  expect(welcome).toHaveLength(1);
  expect(welcome[0].texts).toEqual(expect.arrayContaining(['For administrators', 'What you will receive here', 'status', 'remind']));
  const chat = await product.store.findPersonalConversation(tenant(), ADMIN);
  expect(chat).toMatchObject({ scope: 'personal', subscribed: true });

  // Again (the scheduler runs every hour): nothing new.
  expect(await product.campaign.ensureAdmins(tenant())).toEqual({ installed: [], unreachable: [] });
  expect(welcomes(ADMIN)).toHaveLength(1);

  // Adele removes the app; Teams tells the bot; she is left alone from now on.
  await product.sandbox.teams.uninstall({ upn: ADMIN });
  expect(await product.store.findPersonalConversation(tenant(), ADMIN)).toBeUndefined();
  expect(await product.store.getReachUser(tenant(), ADMIN)).toMatchObject({ bot: 'removed' });
  expect(await product.campaign.ensureAdmins(tenant())).toEqual({ installed: [], unreachable: [] });
  expect(product.sandbox.teams.installations()).toEqual([]);
});

test('without the permission the campaign still nudges those who have the bot, and counts and explains the others', async () => {
  await start();
  await product.sandbox.teams.install({ upn: 'megan.bowen@contoso.com' });

  const c = await campaign('start');
  expect(c).toMatchObject({ status: 'running', funnel: { targeted: TARGETS.length, installed: 1, nudged: 1, opened: 0, reconnected: 0 } });
  expect(c.funnel.unreachable).toEqual([
    expect.objectContaining({ reason: 'permission-not-granted', code: 'REACH_PERMISSION_MISSING', count: TARGETS.length - 1 }),
  ]);
  const consentUrl = `${product.identity.authorityHost}/${tenant()}/adminconsent?client_id=${product.identity.clientId}`;
  expect(c.funnel.unreachable[0].remedy).toContain(INSTALL);
  expect(c.funnel.unreachable[0].remedy).toContain(consentUrl);
  expect(c.permission).toMatchObject({ permission: INSTALL, granted: false, adminConsentUrl: consentUrl });
  expect(product.sandbox.teams.installations().map((i) => i.userOid)).toHaveLength(1);

  // Starting over does not nudge again within the minimum gap.
  expect((await campaign('start')).funnel).toMatchObject({ targeted: TARGETS.length, nudged: 0 });
  expect(nudges('megan.bowen@contoso.com')).toHaveLength(1);

  const [nudge] = nudges('megan.bowen@contoso.com');
  expect(nudge.title).toBe('Megan, please reconnect your mailbox');
  expect(nudge.urls.some((u) => u.includes('from=reconnect-campaign'))).toBe(true);
});

test('a campaign installs and nudges, respects removals, treats 409 as installed and stops for whoever reconnects', async () => {
  // 86 days before EWS is removed (2027-04-01): the 90-day milestone has been reached.
  await start('2027-01-05T09:00:00Z');
  grant([INSTALL]);
  await product.sandbox.teams.install({ upn: ADMIN }); // the catalog id is learnt from her installation
  await product.sandbox.teams.install({ upn: 'megan.bowen@contoso.com' });
  product.sandbox.teams.setAppBlocked({ upn: 'alex.wilber@contoso.com', blocked: true });
  product.sandbox.teams.setTeamsLicense({ upn: 'lee.gu@contoso.com', licensed: false });
  // Nestor has the app but the bot never heard of it: installing again answers 409.
  product.sandbox.teams.setBotEndpoint(undefined);
  await product.sandbox.teams.install({ upn: 'nestor.wilke@contoso.com' });
  product.sandbox.teams.setBotEndpoint(`${product.url}/api/messages`);

  let c = await campaign('start');
  expect(c.funnel).toMatchObject({ targeted: 9, installed: 7, nudged: 6 });
  expect(c.funnel.unreachable.map((u: { reason: string; count: number }) => [u.reason, u.count])).toEqual([
    ['blocked-by-policy', 1],
    ['no-teams-license', 1],
  ]);
  expect(c.permission.granted).toBe(true);
  for (const upn of ['megan.bowen@contoso.com', 'pradeep.gupta@contoso.com', 'diego.siciliani@contoso.com', 'lidia.holloway@contoso.com']) {
    expect(nudges(upn)).toHaveLength(1);
  }
  // Installed by the campaign: Teams' welcome first, then the nudge.
  expect(welcomes('pradeep.gupta@contoso.com')).toHaveLength(1);
  expect(nudges('alex.wilber@contoso.com')).toEqual([]);
  expect(await product.store.getReachUser(tenant(), 'nestor.wilke@contoso.com')).toMatchObject({ bot: 'present' });

  // A day later, the same milestone: nothing new for anyone.
  await advance(DAY);
  c = await campaign('step');
  expect(c.funnel.nudged).toBe(6);
  expect(nudges('pradeep.gupta@contoso.com')).toHaveLength(1);

  // Pradeep opens the tab from the link; Megan reconnects; Lidia removes the bot.
  const opened = await product.call('POST', '/api/me/campaign/opened', { token: await product.ssoToken('pradeep.gupta@contoso.com') });
  expect(opened.status).toBe(204);
  const at = new Date(Date.now() + offsetMs).toISOString();
  await product.store.putConnection({
    tenantId: tenant(),
    upn: 'megan.bowen@contoso.com',
    kind: 'graph-delegated',
    state: 'connected',
    grantedScopes: ['Mail.ReadWrite'],
    createdAt: at,
    updatedAt: at,
  });
  await product.sandbox.teams.uninstall({ upn: 'lidia.holloway@contoso.com' });

  // The 60-day milestone (2027-02-02, 58 days left): a second nudge, except for who moved or left.
  await advance(27 * DAY);
  c = await campaign('step');
  expect(c.funnel).toMatchObject({ targeted: 9, opened: 1, reconnected: 1 });
  expect(nudges('pradeep.gupta@contoso.com')).toHaveLength(2);
  expect(nudges('megan.bowen@contoso.com')).toHaveLength(1);
  expect(nudges('lidia.holloway@contoso.com')).toHaveLength(1);
  expect(c.funnel.unreachable).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'removed-by-user', count: 1 })]));
  expect(product.sandbox.teams.installations().some((i) => i.userOid === 'f88c81b6-7e49-4a9d-a905-6da580011b06')).toBe(false);
  expect(c.funnel.perDay.map((d: { day: string }) => d.day)).toEqual(['2027-01-05', '2027-01-06', '2027-02-02']);

  // Pause stops the steps; resume picks them up.
  expect((await campaign('pause')).status).toBe('paused');
  const paused = await product.call('POST', '/api/admin/campaign', { token: await product.ssoToken(ADMIN), body: { action: 'step' } });
  expect(paused.status).toBe(409);
  expect(paused.body.error.code).toBe('CAMPAIGN_STATE_CONFLICT');
  expect((await campaign('resume')).status).toBe('running');
});

test('only admins see or run the campaign, and the body is validated', async () => {
  await start();
  const user = await product.ssoToken('megan.bowen@contoso.com');
  expect((await product.call('GET', '/api/admin/campaign', { token: user })).status).toBe(403);
  expect((await product.call('POST', '/api/admin/campaign', { token: user, body: { action: 'start' } })).status).toBe(403);
  const admin = await product.ssoToken(ADMIN);
  const bad = await product.call('POST', '/api/admin/campaign', { token: admin, body: { action: 'launch' } });
  expect(bad.status).toBe(400);
  expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  const badDomains = await product.call('POST', '/api/admin/campaign', { token: admin, body: { action: 'start', domains: ['not a domain'] } });
  expect(badDomains.status).toBe(400);
  const idle = await campaign();
  expect(idle).toMatchObject({ status: 'idle', funnel: { targeted: 0, installed: 0, nudged: 0, opened: 0, reconnected: 0, unreachable: [] } });
});

test('a campaign limited to some domains targets only them', async () => {
  await start();
  const c = await campaign('start', { domains: ['fabrikam.com'] });
  expect(c).toMatchObject({ status: 'running', domains: ['fabrikam.com'], funnel: { targeted: 0 } });
});

test('in the bot, remind runs the campaign and status shows its funnel with who cannot be reached', async () => {
  await start();
  await product.sandbox.teams.install({ upn: ADMIN });
  await product.sandbox.teams.say({ upn: ADMIN, text: 'remind' });
  const reply = product.sandbox.teams
    .chat(ADMIN)!
    .messages.filter((m) => m.from === 'bot' && typeof m.activity.text === 'string')
    .map((m) => m.activity.text as string)
    .at(-1);
  expect(reply).toContain('The reconnect campaign is running: 9 people targeted');
  expect(reply).toContain('9 people cannot be reached: Connection Center may not install its app for users');
  expect(await product.store.getCampaign(tenant())).toMatchObject({ status: 'running', startedBy: ADMIN });

  await product.sandbox.teams.say({ upn: ADMIN, text: 'status' });
  const status = cards(ADMIN).at(-1)!;
  expect(status.title).toBe('Connection Center status');
  expect(status.texts).toEqual(expect.arrayContaining(['Reconnect campaign']));
  expect(status.texts.some((t) => t.startsWith('Cannot be reached') && t.includes('TeamsAppInstallation.ReadWriteSelfForUser.All'))).toBe(true);
});

test('Run Test and the permission matrix say whether the product may install its bot, and what that enables', async () => {
  await start();
  const token = await product.ssoToken(ADMIN);
  let perms = await product.call('GET', '/api/admin/permissions', { token });
  expect(perms.body.reach).toMatchObject({ permission: INSTALL, granted: false, enables: expect.stringContaining('installs its bot') });
  expect(perms.body.reach.remedy).toContain('adminconsent?client_id=');

  grant([INSTALL]);
  perms = await product.call('GET', '/api/admin/permissions', { token });
  expect(perms.body.reach).toMatchObject({ granted: true });
  expect(perms.body.reach.remedy).toBeUndefined();

  expect((await product.call('PUT', '/api/admin/domains', { token, body: { domains: ['contoso.com'] } })).status).toBe(200);
  const sa = product.sandbox.seed.serviceAccount;
  const run = await product.call('POST', '/api/admin/service-account/test', {
    token,
    body: { tenant: 'contoso.com', clientId: sa.clientId, clientSecret: sa.secrets[0].value, testAccount: sa.testAccount, features: ['calendarSync'] },
  });
  expect(run.status).toBe(200);
  expect(run.body.reach).toMatchObject({ permission: INSTALL, granted: true });
});
