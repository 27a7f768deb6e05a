/**
 * `npm run package:app`: builds the Teams app package into a temporary folder and reads the zip back
 * with an independent reader (central directory, CRC-32, inflate) written here.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { PackageError, buildPackage, type BuildOptions } from '../../scripts/build-app-package';
import { renderColorIcon, renderOutlineIcon } from '../../scripts/make-icons';

const ROOT = path.resolve(__dirname, '..', '..');

/** The parts of a filled Teams manifest these tests read. */
interface Manifest {
  id: string;
  name: { short: string };
  bots: { botId: string }[];
  staticTabs: { contentUrl?: string; scopes: string[] }[];
  webApplicationInfo: { id: string; resource: string };
  validDomains: string[];
  accentColor: string;
}

interface ZipEntry {
  name: string;
  method: number;
  data: Buffer;
}

/** Reads a ZIP the way an unzip tool does: from the end-of-central-directory record back to each entry. */
function readZip(zip: Buffer): ZipEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central header ${i}`);
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const localOffset = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;

    if (zip.readUInt32LE(localOffset) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const localName = zip.subarray(localOffset + 30, localOffset + 30 + zip.readUInt16LE(localOffset + 26)).toString('utf8');
    if (localName !== name) throw new Error(`local name ${localName} ≠ ${name}`);
    const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(start, start + compressed);
    const data = method === 8 ? zlib.inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : null;
    if (!data) throw new Error(`unsupported method ${method}`);
    if (data.length !== size) throw new Error(`${name}: size ${data.length} ≠ ${size}`);
    if (zlib.crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`);
    entries.push({ name, method, data });
  }
  return entries;
}

function pngSize(data: Buffer): [number, number] {
  expect(data.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

const PROVISIONED = {
  TEAMS_APP_ID: crypto.randomUUID(),
  BOT_ID: crypto.randomUUID(),
  AAD_APP_CLIENT_ID: crypto.randomUUID(),
  TAB_ENDPOINT: 'https://cc-tunnel.example.net/',
};

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-apppkg-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A project root in tmp: the real appPackage/ sources plus the given env files. */
function makeRoot(envFiles: Record<string, string>, edit?: (dir: string) => void): string {
  const root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, 'appPackage'), { recursive: true });
  fs.mkdirSync(path.join(root, 'env'), { recursive: true });
  for (const f of ['manifest.json', 'color.png', 'outline.png']) fs.copyFileSync(path.join(ROOT, 'appPackage', f), path.join(root, 'appPackage', f));
  for (const [name, text] of Object.entries(envFiles)) fs.writeFileSync(path.join(root, 'env', name), text);
  edit?.(path.join(root, 'appPackage'));
  return root;
}

async function buildError(options: BuildOptions): Promise<PackageError> {
  try {
    await buildPackage(options);
  } catch (err) {
    if (err instanceof PackageError) return err;
    throw err;
  }
  throw new Error('the build succeeded');
}

describe('buildPackage', () => {
  it('writes manifest.<env>.json and a zip holding exactly the manifest and the two icons', async () => {
    const root = makeRoot({ '.env.local': 'TEAMSFX_ENV=local\nAPP_NAME_SUFFIX=-local\n' });
    const out = path.join(tmp, 'out');
    const result = await buildPackage({ env: 'local', rootDir: root, outDir: out, processEnv: PROVISIONED, strict: true });

    expect(result.zipPath).toBe(path.join(out, 'appPackage.local.zip'));
    expect(result.manifestPath).toBe(path.join(out, 'manifest.local.json'));
    expect(result.stoodIn).toEqual([]);
    const entries = readZip(fs.readFileSync(result.zipPath));
    expect(entries.map((e) => e.name)).toEqual(['manifest.json', 'color.png', 'outline.png']);

    const manifest = JSON.parse(entries[0]!.data.toString('utf8')) as Manifest;
    expect(manifest).toEqual(JSON.parse(fs.readFileSync(result.manifestPath, 'utf8')));
    expect(manifest.id).toBe(PROVISIONED.TEAMS_APP_ID);
    expect(manifest.bots[0]!.botId).toBe(PROVISIONED.BOT_ID);
    // The trailing slash of TAB_ENDPOINT is dropped and TAB_DOMAIN derived from it.
    expect(manifest.staticTabs[0]!.contentUrl).toBe('https://cc-tunnel.example.net/tab/');
    expect(manifest.webApplicationInfo.resource).toBe(`api://cc-tunnel.example.net/${PROVISIONED.AAD_APP_CLIENT_ID}`);
    expect(manifest.name.short).toBe('Connection Center-local');
    expect(JSON.stringify(manifest)).not.toContain('${{');

    expect(pngSize(entries[1]!.data)).toEqual([192, 192]);
    expect(pngSize(entries[2]!.data)).toEqual([32, 32]);
    expect(entries[1]!.data).toEqual(fs.readFileSync(path.join(ROOT, 'appPackage', 'color.png')));
  });

  it('is reproducible: the same inputs give the same bytes', async () => {
    const root = makeRoot({ '.env.local': 'TEAMSFX_ENV=local\n' });
    const a = await buildPackage({ env: 'local', rootDir: root, outDir: path.join(tmp, 'a'), processEnv: PROVISIONED });
    const b = await buildPackage({ env: 'local', rootDir: root, outDir: path.join(tmp, 'b'), processEnv: PROVISIONED });
    expect(fs.readFileSync(a.zipPath)).toEqual(fs.readFileSync(b.zipPath));
  });

  it('layers env/.env.<env>, then .user, then the process environment; empty values do not override', async () => {
    const root = makeRoot({
      '.env.dev': `TEAMSFX_ENV=dev\nTAB_ENDPOINT=https://from-file.example\nBOT_ID=${crypto.randomUUID()}\nAAD_APP_CLIENT_ID=${PROVISIONED.AAD_APP_CLIENT_ID}\nTEAMS_APP_ID=\n`,
      '.env.dev.user': `BOT_ID=${PROVISIONED.BOT_ID}\nSECRET_BOT_PASSWORD=never-read\n`,
    });
    const result = await buildPackage({
      env: 'dev',
      rootDir: root,
      outDir: tmp,
      processEnv: { TEAMS_APP_ID: PROVISIONED.TEAMS_APP_ID, TAB_ENDPOINT: '', AAD_APP_CLIENT_ID: '  ' },
    });
    expect(result.manifest.id).toBe(PROVISIONED.TEAMS_APP_ID);
    expect((result.manifest.bots as { botId: string }[])[0]!.botId).toBe(PROVISIONED.BOT_ID);
    expect((result.manifest.webApplicationInfo as { id: string }).id).toBe(PROVISIONED.AAD_APP_CLIENT_ID);
    expect((result.manifest.validDomains as string[])[0]).toBe('from-file.example');
    expect(fs.readFileSync(result.zipPath).includes('never-read')).toBe(false);
  });

  it('refuses to build a strict environment with unset values, naming each one', async () => {
    const root = makeRoot({ '.env.dev': 'TEAMSFX_ENV=dev\nTAB_ENDPOINT=https://cc.example\n' });
    const err = await buildError({ env: 'dev', rootDir: root, outDir: tmp, processEnv: {} });
    expect(err.message).toMatch(/env\/\.env\.dev/);
    expect([...err.details].sort()).toEqual(['AAD_APP_CLIENT_ID', 'BOT_ID', 'TEAMS_APP_ID']);
    expect(fs.readdirSync(tmp)).toEqual(['root']);
  });

  it('stands in stable ids for an unprovisioned local environment, and says so', async () => {
    const root = makeRoot({ '.env.local': 'TEAMSFX_ENV=local\nPORT=4000\nTEAMS_APP_ID=\nBOT_ID=\n' });
    const a = await buildPackage({ env: 'local', rootDir: root, outDir: path.join(tmp, 'a'), processEnv: {} });
    expect(a.stoodIn.sort()).toEqual(['AAD_APP_CLIENT_ID', 'BOT_ID', 'TAB_ENDPOINT', 'TEAMS_APP_ID']);
    expect(a.warnings.join(' ')).toMatch(/not provisioned.*cannot be installed/);
    const m = a.manifest as unknown as Manifest;
    expect(m.staticTabs[0]!.contentUrl).toBe('http://localhost:4000/tab/');
    const ids = [m.id, m.bots[0]!.botId, m.webApplicationInfo.id];
    expect(new Set(ids).size).toBe(3);
    const b = await buildPackage({ env: 'local', rootDir: root, outDir: path.join(tmp, 'b'), processEnv: {} });
    expect([b.manifest.id, (b.manifest.bots as { botId: string }[])[0]!.botId]).toEqual(ids.slice(0, 2));
  });

  it('rejects a TAB_DOMAIN that is not the host of TAB_ENDPOINT, and an unknown environment', async () => {
    const root = makeRoot({ '.env.local': 'TEAMSFX_ENV=local\nTAB_DOMAIN=other.example\n' });
    expect((await buildError({ env: 'local', rootDir: root, outDir: tmp, processEnv: PROVISIONED })).message).toMatch(
      /TAB_DOMAIN "other\.example" is not the host of TAB_ENDPOINT/,
    );
    expect((await buildError({ env: 'staging', rootDir: root, outDir: tmp, processEnv: PROVISIONED })).message).toMatch(
      /no environment "staging".*known: local/,
    );
    expect((await buildError({ env: '../x', rootDir: root, outDir: tmp, processEnv: PROVISIONED })).message).toMatch(/not an environment name/);
  });

  it('fails with the schema errors listed when the filled manifest is invalid', async () => {
    const root = makeRoot({ '.env.local': 'TEAMSFX_ENV=local\n' }, (dir) => {
      const file = path.join(dir, 'manifest.json');
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
      m.accentColor = 'teal';
      m.staticTabs[0]!.scopes = ['everywhere'];
      fs.writeFileSync(file, JSON.stringify(m));
    });
    const err = await buildError({ env: 'local', rootDir: root, outDir: tmp, processEnv: PROVISIONED });
    expect(err.message).toMatch(/does not match its schema/);
    expect(err.details.some((d) => d.startsWith('/accentColor '))).toBe(true);
    expect(err.details.some((d) => d.startsWith('/staticTabs/0/scopes/0 '))).toBe(true);
  });

  it('checks the icons: sizes, and an outline that is white on transparent', async () => {
    const solid = (size: number, rgba: [number, number, number, number]) => {
      const png = new PNG({ width: size, height: size });
      for (let i = 0; i < png.data.length; i += 4) png.data.set(rgba, i);
      return PNG.sync.write(png);
    };
    const wrongSize = makeRoot({ '.env.local': '' }, (dir) => fs.writeFileSync(path.join(dir, 'color.png'), solid(100, [0, 0, 255, 255])));
    const e1 = await buildError({ env: 'local', rootDir: wrongSize, outDir: tmp, processEnv: PROVISIONED });
    expect(e1.details).toEqual(['color.png: is 100×100, Teams needs 192×192']);

    fs.rmSync(wrongSize, { recursive: true });
    const blueOutline = makeRoot({ '.env.local': '' }, (dir) => fs.writeFileSync(path.join(dir, 'outline.png'), solid(32, [0, 0, 255, 255])));
    const e2 = await buildError({ env: 'local', rootDir: blueOutline, outDir: tmp, processEnv: PROVISIONED });
    expect(e2.details.join('\n')).toMatch(/1024 visible pixel\(s\) are not white[\s\S]*no transparent pixels/);
  });
});

describe('the icons', () => {
  it('are the product mark drawn by scripts/make-icons.ts (regenerable byte for byte)', () => {
    expect(renderColorIcon()).toEqual(fs.readFileSync(path.join(ROOT, 'appPackage', 'color.png')));
    expect(renderOutlineIcon()).toEqual(fs.readFileSync(path.join(ROOT, 'appPackage', 'outline.png')));
  });

  it('colour: opaque mark on a coloured square; outline: a white mark with transparent surroundings', () => {
    const color = PNG.sync.read(fs.readFileSync(path.join(ROOT, 'appPackage', 'color.png')));
    const at = (png: PNG, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4)];
    expect(at(color, 96, 20)[3]).toBe(255); // background inside the rounded square
    expect(at(color, 0, 0)[3]).toBe(0); // rounded corner
    const colours = new Set<string>();
    for (let y = 0; y < 192; y += 4) for (let x = 0; x < 192; x += 4) colours.add(at(color, x, y).join(','));
    expect(colours.size).toBeGreaterThan(20);

    const outline = PNG.sync.read(fs.readFileSync(path.join(ROOT, 'appPackage', 'outline.png')));
    let opaque = 0;
    for (let i = 3; i < outline.data.length; i += 4) if (outline.data[i]! > 200) opaque++;
    expect(opaque).toBeGreaterThan(100);
    expect(opaque).toBeLessThan(32 * 32 * 0.6);
    expect(at(outline, 0, 0)[3]).toBe(0);
  });
});

describe('npm run package:app (the CLI)', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', 'build-app-package.ts'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp },
      timeout: 20_000,
    });

  it('builds the playground package into --out and exits 0', () => {
    const r = cli('--env', 'playground', '--out', tmp);
    expect(r.stderr).not.toMatch(/package:app:/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/app package for "playground"/);
    expect(readZip(fs.readFileSync(path.join(tmp, 'appPackage.playground.zip'))).map((e) => e.name)).toEqual(['manifest.json', 'color.png', 'outline.png']);
  });

  it('exits 1 with one clear line for an unknown environment or argument', () => {
    const r = cli('--env', 'nosuch', '--out', tmp);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^package:app: no environment "nosuch": env\/\.env\.nosuch does not exist/m);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(cli('--bogus').stderr).toMatch(/unknown argument --bogus/);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});
