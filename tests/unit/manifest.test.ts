/**
 * The Teams app manifest, the Entra app manifest, the Agents Toolkit project and the env files: filled
 * with sample values and validated offline against the schema bundled with @microsoft/app-manifest.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PackageError, fillPlaceholders, parseEnvFile, placeholdersIn, validateManifest } from '../../scripts/build-app-package';
import { ADMIN_APP_ROLE, FEATURES, GRAPH_DELEGATED_SCOPE_IDS, GRAPH_RESOURCE_APP_ID, SSO_SCOPE, delegatedScopesFor } from '../../src/domain';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

const SAMPLE = {
  TEAMS_APP_ID: crypto.randomUUID(),
  BOT_ID: crypto.randomUUID(),
  AAD_APP_CLIENT_ID: crypto.randomUUID(),
  AAD_APP_OBJECT_ID: crypto.randomUUID(),
  AAD_APP_ACCESS_AS_USER_PERMISSION_ID: crypto.randomUUID(),
  TAB_DOMAIN: 'connect.contoso.example',
  TAB_ENDPOINT: 'https://connect.contoso.example',
  APP_NAME_SUFFIX: '-test',
};

// Documented pre-authorised clients for Teams SSO (learn.microsoft.com: tab-sso-register-aad), plus the
// second Office.com client the Agents Toolkit templates add.
const PRE_AUTHORISED = {
  'Teams desktop and mobile': '1fec8e78-bce4-4aaf-ab1b-5451cc387264',
  'Teams web': '5e3ce6c0-2b1f-4285-8d4b-75ee78787346',
  'Outlook desktop, Microsoft 365 mobile': 'd3590ed6-52b3-4102-aeff-aad2292ab01c',
  'Outlook web': 'bc59ab01-8403-45c6-8796-ac3ef710b3e3',
  'Outlook mobile': '27922004-5251-4030-b22d-91ecd9a37ea4',
  'Microsoft 365 web': '4765445b-32c6-49b0-83e6-1d93765276ca',
  'Microsoft 365 desktop': '0ec893e0-5785-4de6-99da-4ed124e5296c',
  'Office.com': '4345a7b9-9a63-4910-a426-35363201d503',
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Command {
  title: string;
  description?: string;
}
interface TeamsManifest {
  $schema: string;
  manifestVersion: string;
  id: string;
  name: { short: string; full?: string };
  description: { short: string; full: string };
  developer: Record<string, string>;
  staticTabs: { entityId: string; contentUrl?: string; websiteUrl?: string; scopes: string[]; context?: string[] }[];
  configurableTabs?: unknown[];
  bots: { botId: string; scopes: string[]; commandLists: { scopes: string[]; commands: Command[] }[] }[];
  webApplicationInfo: { id: string; resource: string };
  validDomains: string[];
}

function filledManifest(values: Record<string, string> = SAMPLE): TeamsManifest {
  return JSON.parse(fillPlaceholders(read('appPackage/manifest.json'), values)) as TeamsManifest;
}

beforeEach(() => {
  // Validation must work offline: any attempt to fetch a schema fails the test.
  jest.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('network access attempted'));
});
afterEach(() => jest.restoreAllMocks());

describe('appPackage/manifest.json', () => {
  it('uses exactly the Agents Toolkit placeholders of this project', () => {
    expect(placeholdersIn(read('appPackage/manifest.json')).sort()).toEqual(
      ['AAD_APP_CLIENT_ID', 'APP_NAME_SUFFIX', 'BOT_ID', 'TAB_DOMAIN', 'TAB_ENDPOINT', 'TEAMS_APP_ID'].sort(),
    );
  });

  it('validates offline against the bundled schema (v1.29 or newer) once filled', async () => {
    const manifest = filledManifest();
    expect(Number(manifest.manifestVersion)).toBeGreaterThanOrEqual(1.29);
    expect(manifest.$schema).toContain(`/v${manifest.manifestVersion}/`);
    expect(await validateManifest(manifest)).toEqual([]);
    expect(manifest.id).toBe(SAMPLE.TEAMS_APP_ID);
    expect(manifest.name.short).toBe('Connection Center-test');
  });

  it('reports schema violations with their paths', async () => {
    const manifest = filledManifest() as unknown as Record<string, unknown> & TeamsManifest;
    manifest.bots[0]!.botId = 'not-a-guid';
    delete (manifest as Partial<TeamsManifest>).developer;
    (manifest as Record<string, unknown>).accentColor = 'blue';
    const errors = await validateManifest(manifest);
    expect(errors.some((e) => e.includes('/bots/0/botId'))).toBe(true);
    expect(errors.some((e) => e.includes("'developer'"))).toBe(true);
    expect(errors.some((e) => e.includes('/accentColor'))).toBe(true);
  });

  it('refuses a schema that is not bundled, or a version that disagrees with $schema', async () => {
    const manifest = filledManifest();
    expect((await validateManifest({ ...manifest, $schema: manifest.$schema.replace(/v1\.\d+/, 'v9.99') }))[0]).toMatch(/not bundled/);
    expect(await validateManifest({ ...manifest, manifestVersion: '1.17' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/manifestVersion is "1.17" but \$schema is v1\.\d+/)]),
    );
    expect(await validateManifest([])).toEqual(['the manifest is not a JSON object']);
  });

  it('has a personal tab at TAB_ENDPOINT/tab/ for Teams, Outlook and the Microsoft 365 app', () => {
    const manifest = filledManifest();
    const tabs = manifest.staticTabs.filter((t) => t.contentUrl);
    expect(tabs).toHaveLength(1);
    const tab = tabs[0]!;
    expect(tab.contentUrl).toBe(`${SAMPLE.TAB_ENDPOINT}/tab/`);
    expect(tab.websiteUrl).toBe(`${SAMPLE.TAB_ENDPOINT}/tab/`);
    expect(tab.scopes).toEqual(['personal']);
    expect(tab.context).toEqual(['personalTab']);
    // Outlook and the Microsoft 365 app host personal static tabs from manifest 1.13 on, and nothing else.
    expect(Number(manifest.manifestVersion)).toBeGreaterThanOrEqual(1.13);
    expect(manifest.configurableTabs).toBeUndefined();
  });

  it('has the bot with its command menus for personal and team scope', () => {
    const manifest = filledManifest();
    expect(manifest.bots).toHaveLength(1);
    const bot = manifest.bots[0]!;
    expect(bot.botId).toBe(SAMPLE.BOT_ID);
    expect(bot.scopes.sort()).toEqual(['personal', 'team']);
    const titles = (scope: string) => bot.commandLists.filter((l) => l.scopes.includes(scope)).flatMap((l) => l.commands.map((c) => c.title));
    expect(titles('personal')).toEqual(expect.arrayContaining(['status', 'test', 'remind', 'help']));
    expect(titles('personal')).not.toContain('subscribe here');
    expect(titles('team')).toEqual(expect.arrayContaining(['subscribe here', 'unsubscribe', 'status', 'test', 'help']));
    for (const c of bot.commandLists.flatMap((l) => l.commands)) expect(c.description?.length).toBeGreaterThan(10);
  });

  it('declares SSO for api://TAB_DOMAIN/<client id> and the tab domain as valid', () => {
    const manifest = filledManifest();
    expect(manifest.webApplicationInfo).toEqual({
      id: SAMPLE.AAD_APP_CLIENT_ID,
      resource: `api://${SAMPLE.TAB_DOMAIN}/${SAMPLE.AAD_APP_CLIENT_ID}`,
    });
    expect(manifest.validDomains).toContain(SAMPLE.TAB_DOMAIN);
  });

  it('describes the product for users and admins in every host', () => {
    const manifest = filledManifest();
    expect(manifest.description.short.length).toBeLessThanOrEqual(80);
    expect(manifest.description.short).toMatch(/Exchange|Graph/);
    expect(manifest.description.full.length).toBeGreaterThan(300);
    for (const word of ['Teams', 'Outlook', 'Microsoft 365 app', 'Connect Office 365', 'admin']) expect(manifest.description.full).toContain(word);
    for (const url of Object.values(manifest.developer).filter((v) => v.includes('://'))) expect(url.startsWith(`${SAMPLE.TAB_ENDPOINT}/`)).toBe(true);
  });
});

describe('fillPlaceholders', () => {
  it('fills ${{NAME}} (spaces allowed) and escapes values as JSON string content', () => {
    const out = fillPlaceholders('{"a":"${{A}}","b":"x${{ B }}y"}', { A: 'say "hi"\\', B: '1' });
    expect(JSON.parse(out)).toEqual({ a: 'say "hi"\\', b: 'x1y' });
  });

  it('lists every unset or empty value, except the optional ones', () => {
    let error: unknown;
    try {
      fillPlaceholders('${{A}} ${{B}} ${{C}} ${{APP_NAME_SUFFIX}}', { A: 'ok', B: '' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PackageError);
    expect((error as PackageError).details).toEqual(['B', 'C']);
    expect((error as PackageError).message).toMatch(/B, C/);
    expect(fillPlaceholders('n${{APP_NAME_SUFFIX}}', {})).toBe('n');
  });
});

describe('appPackage/aad.manifest.json', () => {
  interface AadManifest {
    id: string;
    appId: string;
    signInAudience: string;
    identifierUris: string[];
    api: {
      requestedAccessTokenVersion: number;
      oauth2PermissionScopes: { id: string; value: string; type: string; isEnabled: boolean }[];
      preAuthorizedApplications: { appId: string; delegatedPermissionIds: string[] }[];
    };
    appRoles: { id: string; value: string; allowedMemberTypes: string[]; isEnabled: boolean }[];
    requiredResourceAccess: { resourceAppId: string; resourceAccess: { id: string; type: string }[] }[];
    web: { redirectUris: string[] };
  }
  const template = read('appPackage/aad.manifest.json');
  const aad = JSON.parse(template) as AadManifest;
  const filled = JSON.parse(fillPlaceholders(template, SAMPLE)) as AadManifest;

  it('is a single-tenant app whose App ID URI is the resource the Teams manifest asks a token for', () => {
    expect(aad.id).toBe('${{AAD_APP_OBJECT_ID}}');
    expect(aad.appId).toBe('${{AAD_APP_CLIENT_ID}}');
    expect(aad.signInAudience).toBe('AzureADMyOrg');
    expect(aad.identifierUris).toEqual(['api://${{TAB_DOMAIN}}/${{AAD_APP_CLIENT_ID}}']);
    expect(filled.identifierUris).toEqual([filledManifest().webApplicationInfo.resource]);
    expect(aad.api.requestedAccessTokenVersion).toBe(2);
  });

  it('exposes access_as_user and pre-authorises the Teams, Outlook and Microsoft 365 clients for it', () => {
    expect(aad.api.oauth2PermissionScopes).toHaveLength(1);
    const scope = aad.api.oauth2PermissionScopes[0]!;
    expect(scope).toMatchObject({ value: SSO_SCOPE, type: 'User', isEnabled: true, id: '${{AAD_APP_ACCESS_AS_USER_PERMISSION_ID}}' });
    const clients = aad.api.preAuthorizedApplications;
    expect(clients.map((c) => c.appId).sort()).toEqual(Object.values(PRE_AUTHORISED).sort());
    for (const c of clients) expect(c.delegatedPermissionIds).toEqual([scope.id]);
  });

  it('defines the admin app role for users', () => {
    const roles = aad.appRoles.filter((r) => r.value === ADMIN_APP_ROLE);
    expect(roles).toHaveLength(1);
    expect(roles[0]!.allowedMemberTypes).toEqual(['User']);
    expect(roles[0]!.isEnabled).toBe(true);
    expect(roles[0]!.id).toMatch(GUID);
  });

  it('requests exactly the delegated Graph scopes of the permission matrix, by permission id', () => {
    expect(aad.requiredResourceAccess).toHaveLength(1);
    const graph = aad.requiredResourceAccess[0]!;
    expect(graph.resourceAppId).toBe(GRAPH_RESOURCE_APP_ID);
    expect(graph.resourceAccess.every((r) => r.type === 'Scope')).toBe(true);
    const wanted = delegatedScopesFor(FEATURES).map((s) => {
      const id = GRAPH_DELEGATED_SCOPE_IDS[s];
      if (!id) throw new Error(`no Graph permission id recorded for ${s}`);
      return id;
    });
    expect(graph.resourceAccess.map((r) => r.id).sort()).toEqual(wanted.sort());
  });

  it('redirects consent to TAB_ENDPOINT/auth/callback', () => {
    expect(aad.web.redirectUris).toEqual(['${{TAB_ENDPOINT}}/auth/callback']);
    expect(filled.web.redirectUris).toEqual([`${SAMPLE.TAB_ENDPOINT}/auth/callback`]);
  });
});

/** Just enough YAML reading for the toolkit files: the header, the version and the actions per lifecycle. */
function readToolkitYml(rel: string) {
  const text = read(rel);
  const lines = text.split(/\r?\n/);
  const sections: Record<string, string[]> = {};
  let current = '';
  for (const line of lines) {
    const top = /^([A-Za-z][\w]*):\s*(.*)$/.exec(line);
    if (top) current = top[1]!;
    const uses = /^\s+- uses:\s*(\S+)/.exec(line);
    if (uses) (sections[current] ??= []).push(uses[1]!);
  }
  return { text, header: lines[0]!, version: /^version:\s*(\S+)/m.exec(text)?.[1], sections };
}

describe('Agents Toolkit project', () => {
  const files = ['m365agents.yml', 'm365agents.local.yml', 'm365agents.playground.yml'];

  it.each(files)('%s carries the yaml-language-server schema header of a shipped schema version', (file) => {
    const yml = readToolkitYml(file);
    const m = /^# yaml-language-server: \$schema=https:\/\/aka\.ms\/(?:m365-agents-toolkits|teams-toolkit)\/(v1\.(?:9|1[0-4]))\/yaml\.schema\.json$/.exec(
      yml.header,
    );
    expect(m).not.toBeNull();
    expect(yml.version).toBe(m![1]);
    expect(yml.text).toMatch(/^environmentFolderPath: \.\/env$/m);
  });

  it('m365agents.yml provisions the dev environment end to end', () => {
    const { sections, text } = readToolkitYml('m365agents.yml');
    const provision = sections.provision ?? [];
    for (const action of [
      'aadApp/create',
      'aadApp/update',
      'botAadApp/create',
      'arm/deploy',
      'teamsApp/create',
      'teamsApp/validateManifest',
      'teamsApp/zipAppPackage',
      'teamsApp/validateAppPackage',
      'teamsApp/update',
      'teamsApp/extendToM365',
    ]) {
      expect(provision).toContain(action);
    }
    expect(provision.indexOf('aadApp/create')).toBeLessThan(provision.indexOf('aadApp/update'));
    // The Azure Bot (infra/azure.bicep) registers the bot's Entra app; TAB_ENDPOINT comes from the deployment.
    expect(provision.indexOf('botAadApp/create')).toBeLessThan(provision.indexOf('arm/deploy'));
    expect(provision.indexOf('arm/deploy')).toBeLessThan(provision.indexOf('aadApp/update'));
    expect(provision.indexOf('teamsApp/zipAppPackage')).toBeLessThan(provision.indexOf('teamsApp/update'));
    expect(provision.indexOf('teamsApp/update')).toBeLessThan(provision.indexOf('teamsApp/extendToM365'));
    expect(sections.deploy).toEqual(['cli/runNpmCommand', 'cli/runNpmCommand', 'azureAppService/zipDeploy']);
    expect(read('infra/azure.bicep')).toMatch(/endpoint: 'https:\/\/\$\{webApp\.properties\.defaultHostName\}\/api\/messages'/);
    expect(text).toMatch(/signInAudience: AzureADMyOrg/);
    expect(text).toMatch(/args: run build$/m);
  });

  it('m365agents.local.yml debugs in Teams and Outlook through the tunnel', () => {
    const { sections, text } = readToolkitYml('m365agents.local.yml');
    const provision = sections.provision ?? [];
    for (const action of [
      'teamsApp/create',
      'aadApp/create',
      'aadApp/update',
      'botAadApp/create',
      'botFramework/create',
      'teamsApp/zipAppPackage',
      'teamsApp/update',
      'teamsApp/extendToM365',
    ]) {
      expect(provision).toContain(action);
    }
    // TAB_DOMAIN must be known before the Entra app's identifierUris are written.
    expect(provision.indexOf('script')).toBeLessThan(provision.indexOf('aadApp/update'));
    expect(text).toMatch(/TAB_ENDPOINT=\$\{\{BOT_ENDPOINT\}\}/);
    expect(text).toMatch(/TAB_DOMAIN=\$\{\{BOT_DOMAIN\}\}/);
    expect(text).toMatch(/messagingEndpoint: \$\{\{BOT_ENDPOINT\}\}\/api\/messages/);
    expect(sections.deploy).toContain('file/createOrUpdateEnvironmentFile');
    expect(text).toMatch(/target: \.\/\.localConfigs$/m);
  });

  it('m365agents.playground.yml provisions nothing and keeps the bot anonymous', () => {
    const { sections, text } = readToolkitYml('m365agents.playground.yml');
    expect(sections.provision).toBeUndefined();
    expect(sections.deploy).toContain('file/createOrUpdateEnvironmentFile');
    expect(text).toMatch(/BOT_ID: (""|'')$/m);
  });

  it('every ${{…}} of the Entra manifest is written by provision or set in the env file', () => {
    for (const [file, envName] of [
      ['m365agents.yml', 'dev'],
      ['m365agents.local.yml', 'local'],
    ] as const) {
      const text = read(file);
      const env = parseEnvFile(read(`env/.env.${envName}`));
      for (const name of placeholdersIn(read('appPackage/aad.manifest.json'))) {
        // aadApp/update generates the scope id itself when it is empty.
        if (name === 'AAD_APP_ACCESS_AS_USER_PERMISSION_ID') continue;
        const written = new RegExp(`:\\s*${name}\\s*$|set-teamsfx-env ${name}=`, 'm').test(text);
        expect({ file, name, known: written || name in env }).toEqual({ file, name, known: true });
      }
    }
  });
});

describe('environments', () => {
  const envDir = path.join(ROOT, 'env');

  it.each(['local', 'dev', 'playground'])('env/.env.%s names its environment', (name) => {
    expect(parseEnvFile(read(`env/.env.${name}`)).TEAMSFX_ENV).toBe(name);
  });

  it('no committed env file holds a SECRET_ value', () => {
    const committed = fs.readdirSync(envDir).filter((f) => !f.endsWith('.user'));
    expect(committed.length).toBeGreaterThanOrEqual(3);
    for (const file of committed) {
      const text = fs.readFileSync(path.join(envDir, file), 'utf8');
      const withValue = text.split(/\r?\n/).filter((l) => /^[ \t]*(?:export[ \t]+)?SECRET_\w*[ \t]*=[ \t]*[^\s#]/.test(l));
      expect({ file, withValue }).toEqual({ file, withValue: [] });
    }
    // The samples show where the secrets go.
    expect(Object.keys(parseEnvFile(read('env/.env.local.user.sample')))).toEqual(
      expect.arrayContaining(['SECRET_AAD_APP_CLIENT_SECRET', 'SECRET_BOT_PASSWORD']),
    );
    expect(read('.gitignore')).toMatch(/^env\/\.env\.\*\.user$/m);
  });

  it('the playground environment, its yml, the VS Code profile and npm run playground agree', () => {
    const env = parseEnvFile(read('env/.env.playground'));
    expect(env.BOT_ID).toBe('');
    expect(env.PORT).toBe('3978');
    expect(env.TEAMSAPPTESTER_PORT).toBe('56150');
    expect(env.BOT_ENDPOINT).toBe('http://127.0.0.1:3978');
    const launch = JSON.parse(read('.vscode/launch.json')) as { configurations: { name: string; runtimeArgs?: string[] }[] };
    const profile = launch.configurations.find((c) => c.name === 'Debug in Agents Playground');
    expect(profile?.runtimeArgs).toEqual(['run', 'playground']);
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.playground).toBeDefined();
  });

  it('.vscode offers Debug in Teams, in Outlook and in the Agents Playground, wired to tasks that exist', () => {
    const launch = JSON.parse(read('.vscode/launch.json')) as {
      configurations: { name: string; preLaunchTask?: string; url?: string }[];
      compounds: { name: string; configurations: string[]; preLaunchTask?: string }[];
    };
    const tasks = JSON.parse(read('.vscode/tasks.json')) as { tasks: { label: string; dependsOn?: string[] }[] };
    const labels = new Set(tasks.tasks.map((t) => t.label));
    const configs = new Set(launch.configurations.map((c) => c.name));
    const profiles = [...launch.configurations, ...launch.compounds].map((p) => p.name);
    expect(profiles).toEqual(expect.arrayContaining(['Debug in Teams', 'Debug in Outlook', 'Debug in Agents Playground']));
    for (const c of launch.compounds) {
      for (const name of c.configurations) expect(configs.has(name)).toBe(true);
      if (c.preLaunchTask) expect(labels.has(c.preLaunchTask)).toBe(true);
    }
    for (const c of launch.configurations) if (c.preLaunchTask) expect(labels.has(c.preLaunchTask)).toBe(true);
    for (const t of tasks.tasks) for (const d of t.dependsOn ?? []) expect(labels.has(d)).toBe(true);
    const urls = launch.configurations.map((c) => c.url ?? '');
    expect(urls.some((u) => u.startsWith('https://teams.microsoft.com/l/app/${{local:TEAMS_APP_ID}}'))).toBe(true);
    expect(urls.some((u) => u.startsWith('https://outlook.office.com/host/${{local:M365_APP_ID}}'))).toBe(true);
  });
});
