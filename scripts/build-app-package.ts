/**
 * Builds the Teams app package offline: `npm run package:app [-- --env local|dev|playground] [--out DIR] [--strict]`.
 *
 * Reads env/.env.<env> (then env/.env.<env>.user, then the process environment; an empty value is unset),
 * fills the ${{NAME}} placeholders of appPackage/manifest.json, validates the result against the Teams
 * schema bundled with @microsoft/app-manifest (never fetched), checks the icons, and writes
 * appPackage/build/manifest.<env>.json and appPackage/build/appPackage.<env>.zip.
 *
 * Before the Agents Toolkit has provisioned an environment its ids are empty. For `local` and `playground`
 * the build then stands in stable placeholder ids (and http://localhost:<PORT> for TAB_ENDPOINT) and says so,
 * so a fresh clone builds; such a package validates but is not installable. Any other environment, or
 * --strict, refuses to build with unset values.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';
import { PNG } from 'pngjs';

export const ROOT_DIR = path.resolve(__dirname, '..');

/** Placeholders that may legitimately be empty. */
const OPTIONAL_PLACEHOLDERS = ['APP_NAME_SUFFIX'];
/** Ids the toolkit writes on provision; stood in for unprovisioned lenient environments. */
const PROVISIONED_IDS = ['TEAMS_APP_ID', 'BOT_ID', 'AAD_APP_CLIENT_ID'];
const LENIENT_ENVS = ['local', 'playground'];
const ICON_SIZES = { color: 192, outline: 32 } as const;

const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** An expected build failure: `message` says what, `details` lists each problem (schema errors, unset keys). */
export class PackageError extends Error {
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'PackageError';
  }
}

/** Parses a dotenv file as the Agents Toolkit writes it: KEY=value, # comments, optional quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2]!;
    else value = value.replace(/\s+#.*$/, '').trim();
    out[m[1]!] = value;
  }
  return out;
}

/** Names of the placeholders a template uses, in order of first use. */
export function placeholdersIn(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/**
 * Replaces every ${{NAME}} in a JSON template with its value, escaped as JSON string content.
 * Unset or empty values fail with the names listed, except for `optional` names (default APP_NAME_SUFFIX).
 */
export function fillPlaceholders(
  template: string,
  values: Readonly<Record<string, string | undefined>>,
  options: { optional?: readonly string[] } = {},
): string {
  const optional = new Set(options.optional ?? OPTIONAL_PLACEHOLDERS);
  const missing = placeholdersIn(template).filter((name) => !values[name] && !optional.has(name));
  if (missing.length > 0) {
    throw new PackageError(`unset value${missing.length > 1 ? 's' : ''} for ${missing.join(', ')}`, missing);
  }
  return template.replace(PLACEHOLDER, (_, name: string) => JSON.stringify(values[name] ?? '').slice(1, -1));
}

type SchemaValidator = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string; params?: unknown }[] | null;
};

const APP_MANIFEST_DIR = path.dirname(require.resolve('@microsoft/app-manifest/package.json'));
const validators = new Map<string, SchemaValidator>();

/**
 * The compiled validator for a bundled Teams schema. It is the ajv set-up of @microsoft/app-manifest's
 * AppManifestUtils.validateAgainstSchema (draft-04, allErrors, uri/email/regex formats), resolved from that
 * package; its own entry point cannot be used because it loads the ESM-only strip-bom, which Jest cannot.
 */
function bundledValidator(schemaUrl: string): { version: string; validate: SchemaValidator } {
  const m = /\/json-schemas\/teams\/(v[0-9]+\.[0-9]+|vDevPreview)\/MicrosoftTeams\.schema\.json$/.exec(schemaUrl);
  if (!m) throw new PackageError(`$schema ${schemaUrl} is not a Teams manifest schema URL`);
  const version = m[1]!;
  const file = path.join(APP_MANIFEST_DIR, 'build', 'json-schemas', 'teams', version, 'MicrosoftTeams.schema.json');
  if (!fs.existsSync(file)) {
    throw new PackageError(`the Teams schema ${version} is not bundled with @microsoft/app-manifest, so it cannot be validated offline`);
  }
  let validate = validators.get(file);
  if (!validate) {
    const raw = fs.readFileSync(file, 'utf8');
    let schema: { $schema?: string };
    try {
      schema = JSON.parse(raw) as { $schema?: string };
    } catch {
      // Some published schemas carry \a and \v escapes, which JSON does not allow.
      schema = JSON.parse(raw.replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b')) as { $schema?: string };
    }
    const fromPackage = createRequire(path.join(APP_MANIFEST_DIR, 'package.json'));
    const Ajv = (schema.$schema?.includes('2020-12') ? fromPackage('ajv/dist/2020') : fromPackage('ajv-draft-04')) as {
      default: new (options: object) => { compile(schema: object): SchemaValidator };
    };
    const addFormats = (fromPackage('ajv-formats') as { default: (ajv: unknown, formats: string[]) => void }).default;
    const ajv = new Ajv.default({ allErrors: true, strictTypes: false });
    addFormats(ajv, ['uri', 'email', 'regex']);
    validate = ajv.compile(schema);
    validators.set(file, validate);
  }
  return { version: version.slice(1), validate };
}

/**
 * Validates a filled manifest against the schema named by its $schema, from the copy bundled with
 * @microsoft/app-manifest (offline). Returns the problems; an empty list means valid.
 */
export async function validateManifest(manifest: unknown): Promise<string[]> {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) return ['the manifest is not a JSON object'];
  const m = manifest as { $schema?: unknown; manifestVersion?: unknown };
  if (typeof m.$schema !== 'string') return ['$schema is missing: name the Teams schema the manifest follows'];
  let bundled;
  try {
    bundled = bundledValidator(m.$schema);
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
  const errors: string[] = [];
  if (m.manifestVersion !== bundled.version && bundled.version !== 'DevPreview') {
    errors.push(`/manifestVersion is ${JSON.stringify(m.manifestVersion)} but $schema is v${bundled.version}`);
  }
  if (!bundled.validate(JSON.parse(JSON.stringify(manifest)))) {
    for (const e of bundled.validate.errors ?? []) {
      errors.push(`${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    }
  }
  return errors;
}

/** Checks the icons the manifest names: colour 192×192, outline 32×32 white on transparent. */
export function checkIcons(packageDir: string, manifest: { icons?: { color?: string; outline?: string } }): string[] {
  const problems: string[] = [];
  for (const kind of ['color', 'outline'] as const) {
    const name = manifest.icons?.[kind];
    if (!name) {
      problems.push(`icons.${kind} is not set`);
      continue;
    }
    const file = path.join(packageDir, name);
    let png: PNG;
    try {
      png = PNG.sync.read(fs.readFileSync(file));
    } catch (err) {
      problems.push(`${name}: not a readable PNG (${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    const want = ICON_SIZES[kind];
    if (png.width !== want || png.height !== want) {
      problems.push(`${name}: is ${png.width}×${png.height}, Teams needs ${want}×${want}`);
      continue;
    }
    if (kind === 'outline') {
      let transparent = 0;
      let coloured = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const alpha = png.data[i + 3]!;
        if (alpha === 0) transparent++;
        else if (png.data[i]! < 250 || png.data[i + 1]! < 250 || png.data[i + 2]! < 250) coloured++;
      }
      if (coloured > 0) problems.push(`${name}: ${coloured} visible pixel(s) are not white; the outline icon must be white on transparent`);
      if (transparent === 0) problems.push(`${name}: has no transparent pixels; the outline icon must be white on transparent`);
    }
  }
  return problems;
}

// The fixed timestamp (2025-01-01 00:00, DOS format) keeps the package byte-for-byte reproducible.
const DOS_TIME = 0;
const DOS_DATE = ((2025 - 1980) << 9) | (1 << 5) | 1;

/** A minimal ZIP writer (deflate, or store when that is smaller); names are UTF-8. */
export function createZip(entries: readonly { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const deflated = zlib.deflateRawSync(data, { level: 9 });
    const useDeflate = deflated.length < data.length;
    const body = useDeflate ? deflated : data;
    const crc = zlib.crc32(data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // flag: UTF-8 names
    local.writeUInt16LE(useDeflate ? 8 : 0, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by: 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(useDeflate ? 8 : 0, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);

    offset += local.length + nameBytes.length + body.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/** A stable, clearly fake GUID per environment and key, for unprovisioned local builds. */
function standInGuid(env: string, key: string): string {
  const h = crypto.createHash('sha256').update(`connection-center:unprovisioned:${env}:${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8: custom
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The values an environment gives the placeholders: env/.env.<env>, then env/.env.<env>.user, then the
 * process environment; empty values count as unset. SECRET_ values are never read: no placeholder needs one.
 */
export function loadEnvValues(env: string, rootDir: string, processEnv: NodeJS.ProcessEnv, keys: readonly string[]): Record<string, string> {
  const file = path.join(rootDir, 'env', `.env.${env}`);
  if (!fs.existsSync(file)) {
    const known = fs.existsSync(path.join(rootDir, 'env'))
      ? fs
          .readdirSync(path.join(rootDir, 'env'))
          .filter((f) => /^\.env\.[A-Za-z0-9_-]+$/.test(f))
          .map((f) => f.slice(5))
      : [];
    throw new PackageError(`no environment "${env}": env/.env.${env} does not exist${known.length ? ` (known: ${known.join(', ')})` : ''}`);
  }
  const layers = [parseEnvFile(fs.readFileSync(file, 'utf8'))];
  const userFile = `${file}.user`;
  if (fs.existsSync(userFile)) layers.push(parseEnvFile(fs.readFileSync(userFile, 'utf8')));
  layers.push(Object.fromEntries(Object.entries(processEnv).filter((e): e is [string, string] => typeof e[1] === 'string')));
  const values: Record<string, string> = {};
  for (const key of keys) {
    if (key.startsWith('SECRET_')) continue;
    for (const layer of layers) {
      const v = layer[key]?.trim();
      if (v) values[key] = v;
    }
  }
  return values;
}

export interface BuildOptions {
  /** Environment name (env/.env.<env>); default TEAMSFX_ENV from the process environment, else `local`. */
  env?: string;
  /** Folder holding appPackage/ and env/; default the repository root. */
  rootDir?: string;
  /** Where to write the outputs; default <rootDir>/appPackage/build. */
  outDir?: string;
  /** Overrides on top of the env files; default process.env. */
  processEnv?: NodeJS.ProcessEnv;
  /** Refuse unset ids instead of standing in; default: every environment but local and playground. */
  strict?: boolean;
}

export interface BuildResult {
  env: string;
  manifest: Record<string, unknown>;
  manifestPath: string;
  zipPath: string;
  /** Keys given stand-in values because the environment is not provisioned yet. */
  stoodIn: string[];
  warnings: string[];
}

export async function buildPackage(options: BuildOptions = {}): Promise<BuildResult> {
  const processEnv = options.processEnv ?? process.env;
  const env = options.env ?? (processEnv.TEAMSFX_ENV?.trim() || 'local');
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(env)) throw new PackageError(`"${env}" is not an environment name`);
  const rootDir = path.resolve(options.rootDir ?? ROOT_DIR);
  const packageDir = path.join(rootDir, 'appPackage');
  const outDir = path.resolve(options.outDir ?? path.join(packageDir, 'build'));
  const strict = options.strict ?? !LENIENT_ENVS.includes(env);

  const template = fs.readFileSync(path.join(packageDir, 'manifest.json'), 'utf8');
  const keys = [...new Set([...placeholdersIn(template), 'TAB_ENDPOINT', 'TAB_DOMAIN', 'PORT'])];
  const values = loadEnvValues(env, rootDir, processEnv, keys);
  const warnings: string[] = [];
  const stoodIn: string[] = [];

  if (!values.TAB_ENDPOINT && !strict) {
    values.TAB_ENDPOINT = `http://localhost:${values.PORT || '3978'}`;
    stoodIn.push('TAB_ENDPOINT');
  }
  if (values.TAB_ENDPOINT) {
    let url: URL;
    try {
      url = new URL(values.TAB_ENDPOINT);
    } catch {
      throw new PackageError(`TAB_ENDPOINT "${values.TAB_ENDPOINT}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PackageError(`TAB_ENDPOINT "${values.TAB_ENDPOINT}" must be an https:// URL`);
    values.TAB_ENDPOINT = values.TAB_ENDPOINT.replace(/\/+$/, '');
    // TAB_DOMAIN is the host[:port] of TAB_ENDPOINT; the SSO resource and validDomains must agree with it.
    if (!values.TAB_DOMAIN) values.TAB_DOMAIN = url.host;
    else if (values.TAB_DOMAIN.toLowerCase() !== url.host.toLowerCase()) {
      throw new PackageError(`TAB_DOMAIN "${values.TAB_DOMAIN}" is not the host of TAB_ENDPOINT "${values.TAB_ENDPOINT}" (expected "${url.host}")`);
    }
    if (url.protocol === 'http:') warnings.push(`TAB_ENDPOINT ${values.TAB_ENDPOINT} is http://: Teams and Outlook load tabs only over https.`);
  }
  if (!strict) {
    for (const key of PROVISIONED_IDS) {
      if (!values[key] && placeholdersIn(template).includes(key)) {
        values[key] = standInGuid(env, key);
        stoodIn.push(key);
      }
    }
  }
  if (stoodIn.length > 0) {
    warnings.unshift(
      `environment "${env}" is not provisioned: stand-in values for ${stoodIn.join(', ')}. ` +
        'The package validates but cannot be installed in Teams with stand-in ids: provision the environment with the Agents Toolkit first.',
    );
  }

  let filled: string;
  try {
    filled = fillPlaceholders(template, values);
  } catch (err) {
    if (err instanceof PackageError) {
      throw new PackageError(
        `cannot fill appPackage/manifest.json for "${env}": ${err.message}; set them in env/.env.${env} or provision the environment`,
        err.details,
      );
    }
    throw err;
  }
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(filled) as Record<string, unknown>;
  } catch (err) {
    throw new PackageError(`appPackage/manifest.json is not valid JSON after filling: ${err instanceof Error ? err.message : String(err)}`);
  }
  const schemaErrors = await validateManifest(manifest);
  if (schemaErrors.length > 0) {
    throw new PackageError(`the manifest for "${env}" does not match its schema (${String(manifest.$schema)})`, schemaErrors);
  }
  const icons = manifest.icons as { color: string; outline: string };
  const iconProblems = checkIcons(packageDir, { icons });
  if (iconProblems.length > 0) throw new PackageError('the icons are not what Teams accepts', iconProblems);

  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  const zip = createZip([
    { name: 'manifest.json', data: Buffer.from(manifestText, 'utf8') },
    { name: icons.color, data: fs.readFileSync(path.join(packageDir, icons.color)) },
    { name: icons.outline, data: fs.readFileSync(path.join(packageDir, icons.outline)) },
  ]);
  fs.mkdirSync(outDir, { recursive: true });
  const manifestPath = path.join(outDir, `manifest.${env}.json`);
  const zipPath = path.join(outDir, `appPackage.${env}.zip`);
  fs.writeFileSync(manifestPath, manifestText);
  fs.writeFileSync(zipPath, zip);
  return { env, manifest, manifestPath, zipPath, stoodIn, warnings };
}

function parseArgs(argv: readonly string[]): BuildOptions {
  const options: BuildOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (!v) throw new PackageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--env' || flag === '-e') options.env = value();
    else if (flag === '--out') options.outDir = value();
    else if (flag === '--strict') options.strict = true;
    else throw new PackageError(`unknown argument ${arg} (usage: npm run package:app -- [--env local|dev|playground] [--out DIR] [--strict])`);
  }
  return options;
}

async function main(): Promise<void> {
  try {
    const result = await buildPackage(parseArgs(process.argv.slice(2)));
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    const rel = (p: string) => path.relative(process.cwd(), p) || p;
    process.stdout.write(`app package for "${result.env}": ${rel(result.zipPath)} (manifest: ${rel(result.manifestPath)})\n`);
  } catch (err) {
    if (!(err instanceof PackageError)) throw err;
    process.stderr.write(`package:app: ${err.message}\n`);
    for (const d of err.details) process.stderr.write(`  - ${d}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
