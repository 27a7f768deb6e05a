/**
 * The Azure deployment as the Agents Toolkit runs it: every file m365agents.yml names exists, every
 * ${{…}} of the Bicep parameters file is known to the dev environment, the parameters file and the
 * template agree, the app runs the compiled server, and each secret reaches it as a Key Vault reference.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnvFile, placeholdersIn } from '../../scripts/build-app-package';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

const yml = read('m365agents.yml');
/** `key: value` lines of the yml (comments aside), e.g. every `path:` of arm/deploy's templates. */
const values = (key: string) => [...yml.matchAll(new RegExp(`^\\s+(?:- )?${key}: (\\S+)\\s*$`, 'gm'))].map((m) => m[1]!);
const bicep = read('infra/azure.bicep');
const parameters = JSON.parse(read('infra/azure.parameters.json')) as { parameters: Record<string, { value: unknown }> };

test('every file m365agents.yml reads exists (outputs under appPackage/build aside)', () => {
  const files = ['manifestPath', 'ignoreFile', 'path', 'parameters', 'artifactFolder'].flatMap(values);
  expect(files).toEqual(expect.arrayContaining(['./infra/azure.bicep', './infra/azure.parameters.json', './.webappignore']));
  for (const file of files) expect({ file, exists: fs.existsSync(path.join(ROOT, file)) }).toEqual({ file, exists: true });
});

test('every ${{…}} of the parameters file is written by provision, set in env/.env.dev, or a secret of env/.env.dev.user', () => {
  const text = yml;
  const env = parseEnvFile(read('env/.env.dev'));
  const secrets = parseEnvFile(read('env/.env.dev.user.sample'));
  for (const name of placeholdersIn(read('infra/azure.parameters.json'))) {
    const known = new RegExp(`:\\s*${name}\\s*$|set-teamsfx-env ${name}=`, 'm').test(text) || name in env || name in secrets;
    expect({ name, known }).toEqual({ name, known: true });
  }
});

test('the parameters file sets only parameters the template declares, and every one without a default', () => {
  const declared = [...bicep.matchAll(/^param (\w+) \w+( = .*)?$/gm)].map((m) => ({ name: m[1]!, required: !m[2] }));
  expect(Object.keys(parameters.parameters).filter((p) => !declared.some((d) => d.name === p))).toEqual([]);
  expect(declared.filter((d) => d.required && !(d.name in parameters.parameters)).map((d) => d.name)).toEqual([]);
});

test('the deployment writes what later steps read: the App Service for zipDeploy, TAB_ENDPOINT for the Entra app', () => {
  const outputs = [...bicep.matchAll(/^output (\w+) /gm)].map((m) => m[1]);
  expect(outputs).toEqual(expect.arrayContaining(['AZURE_APP_SERVICE_RESOURCE_ID', 'TAB_ENDPOINT', 'TAB_DOMAIN']));
  expect(values('resourceId')).toEqual(['${{AZURE_APP_SERVICE_RESOURCE_ID}}']);
});

test('App Service runs the compiled server on Node 20 with several instances; secrets are Key Vault references', () => {
  expect(bicep).toMatch(/linuxFxVersion: 'NODE\|20-lts'/);
  expect(bicep).toMatch(/appCommandLine: 'node dist\/src\/index\.js'/);
  expect(bicep).toMatch(/param instanceCount int = [2-9]/);
  expect(bicep).toMatch(/version: '15'/);
  expect(bicep).toMatch(/channelName: 'MsTeamsChannel'/);
  for (const setting of ['SECRET_AAD_APP_CLIENT_SECRET', 'SECRET_BOT_PASSWORD', 'ENCRYPTION_KEY', 'DATA_STORE']) {
    const value = new RegExp(`name: '${setting}'\\n\\s+value: '(.*)'`).exec(bicep)?.[1];
    expect({ setting, value }).toEqual({ setting, value: expect.stringMatching(/^@Microsoft\.KeyVault\(SecretUri=\$\{secretUriBase\}\/[a-z-]+\/\)$/) });
  }
  // The package files App Service needs stay in the zip; the compiled server is not excluded by a sources rule.
  const ignore = read('.webappignore').split('\n');
  expect(ignore).not.toEqual(expect.arrayContaining(['dist/', '/dist/', 'src/', 'package.json', 'package-lock.json']));
});
