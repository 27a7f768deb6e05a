/**
 * Silent token acquisition with 1,000 and with 100,000 users' token-cache partitions in a SQLite
 * store. Prints p50/p99 per size and the 100k/1k ratio; asserts nothing.
 * Targets: silent p50 ≤ 2 ms, 100k/1k ≤ 1.5.
 *
 *   npm run bench:tokens [-- --small 1000 --large 100000 --samples 2000]
 *
 * One real sign-in against the sandbox tenant gives the cache exactly as MSAL writes it; the other
 * partitions are that shape with each user's own ids, claims and token strings (no 100k sign-ins).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { delegatedScopesFor, FEATURES } from '../src/domain/features';
import { DelegatedAuth } from '../src/identity/delegated-auth';
import { Keyring, openStore } from '../src/store';
import type { Store } from '../src/store/types';
import { ensureCertificates, startSandbox } from '../src/sandbox';
import { authorizeWithoutPages } from '../src/sandbox/sign-in-without-pages';
import { numberArg } from './args';

const REDIRECT = 'http://localhost:3978/auth/callback';

/** Node trusts an extra CA only from process start: re-run this script with the sandbox CA named. */
async function ensureTrustedCa(): Promise<boolean> {
  if (process.env.NODE_EXTRA_CA_CERTS && process.env.SANDBOX_CERTS_DIR) return true;
  const dir = path.join(os.tmpdir(), 'connection-center-bench-ca');
  const certs = await ensureCertificates(dir);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certs.caCertPath, SANDBOX_CERTS_DIR: dir },
  });
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  process.exit(code);
}

type Entity = Record<string, unknown>;
type JsonCache = Record<'Account' | 'IdToken' | 'AccessToken' | 'RefreshToken' | 'AppMetadata', Record<string, Entity>>;

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const sameLength = (s: string) =>
  randomBytes(Math.ceil((s.length * 3) / 4))
    .toString('base64url')
    .slice(0, s.length);

/** The template partition rewritten for another user: ids, names, claims and token strings. */
function partitionFor(
  template: JsonCache,
  from: { oid: string; upn: string; name: string },
  to: { oid: string; upn: string; name: string },
  tid: string,
): string {
  const fromHome = `${from.oid}.${tid}`;
  const toHome = `${to.oid}.${tid}`;
  const now = Math.floor(Date.now() / 1000);
  const rekey = (k: string) => k.split(fromHome.toLowerCase()).join(toHome.toLowerCase());
  const out = {} as JsonCache;
  for (const section of Object.keys(template) as Array<keyof JsonCache>) {
    out[section] = {};
    for (const [key, entity] of Object.entries(template[section])) {
      const e: Entity = { ...entity };
      if (e.home_account_id === fromHome) e.home_account_id = toHome;
      if (e.local_account_id === from.oid) e.local_account_id = to.oid;
      if (e.username === from.upn) e.username = to.upn;
      if (e.name === from.name) e.name = to.name;
      if (typeof e.client_info === 'string') e.client_info = Buffer.from(JSON.stringify({ uid: to.oid, utid: tid })).toString('base64url');
      if (section === 'IdToken' && typeof e.secret === 'string') {
        const [h, p, s] = e.secret.split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        e.secret = `${h}.${b64url({ ...claims, oid: to.oid, sub: to.oid, preferred_username: to.upn, name: to.name })}.${s}`;
      }
      if ((section === 'AccessToken' || section === 'RefreshToken') && typeof e.secret === 'string') e.secret = sameLength(e.secret);
      if (section === 'AccessToken') {
        e.cached_at = String(now);
        e.expires_on = String(now + 86_400);
        e.extended_expires_on = String(now + 86_400);
        delete e.refresh_on;
      }
      out[section][rekey(key)] = e;
    }
  }
  return JSON.stringify(out);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(auth: DelegatedAuth, tid: string, oids: string[], samples: number, scopes: string[]) {
  for (let i = 0; i < Math.min(200, samples); i++) await auth.acquireSilent({ tenantId: tid, homeAccountId: `${oids[i % oids.length]}.${tid}`, scopes });
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const oid = oids[Math.floor(Math.random() * oids.length)];
    const t0 = process.hrtime.bigint();
    await auth.acquireSilent({ tenantId: tid, homeAccountId: `${oid}.${tid}`, scopes });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function seed(
  store: Store,
  template: JsonCache,
  from: { oid: string; upn: string; name: string },
  tid: string,
  oids: string[],
  count: number,
): Promise<void> {
  const t0 = Date.now();
  while (oids.length < count) {
    const oid = randomUUID();
    const n = oids.length;
    await store.putTokenCache(tid, `${oid}.${tid}`, partitionFor(template, from, { oid, upn: `user${n}@contoso.com`, name: `User ${n}` }, tid));
    oids.push(oid);
    if (oids.length % 20_000 === 0) process.stdout.write(`  seeded ${oids.length} partitions (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
}

async function main() {
  if (!(await ensureTrustedCa())) return;
  const small = numberArg('small', 1000);
  const large = numberArg('large', 100_000);
  const samples = numberArg('samples', 2000);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'cc-bench-tokens-'));
  const dbFile = path.join(dir, 'tokens.db');
  const certs = await ensureCertificates(process.env.SANDBOX_CERTS_DIR!);
  const sandbox = await startSandbox({ certs, productRedirectUris: [REDIRECT] });
  const store = await openStore(`sqlite:${dbFile}`, new Keyring([{ id: 'bench', key: randomBytes(32) }], 'bench'));
  try {
    const tid = sandbox.tenantId;
    const auth = new DelegatedAuth({
      authorityHost: sandbox.authorityHost,
      tenantId: tid,
      clientId: sandbox.productApp.clientId,
      clientSecret: sandbox.productApp.clientSecret,
      redirectUri: REDIRECT,
      knownAuthorities: [sandbox.knownAuthority],
      store,
    });
    const scopes = delegatedScopesFor(FEATURES);

    // One real sign-in: the template is what MSAL itself wrote.
    const megan = sandbox.seed.users.find((u) => u.upn === 'megan.bowen@contoso.com')!;
    const pkce = auth.makePkce();
    const nonce = randomBytes(12).toString('base64url');
    const cb = await authorizeWithoutPages(await auth.authCodeUrl({ scopes, state: 'bench', codeChallenge: pkce.challenge, loginHint: megan.upn, nonce }));
    const account = await auth.redeemCode({
      code: cb.searchParams.get('code')!,
      codeVerifier: pkce.verifier,
      scopes,
      tenantId: tid,
      nonce,
      expectedOid: megan.oid,
    });
    const serialized = (await store.getTokenCache(tid, account.homeAccountId))!;
    const template = JSON.parse(serialized) as JsonCache;
    const from = { oid: megan.oid, upn: megan.upn, name: megan.displayName };

    const oids: string[] = [];
    console.log(`bench:tokens  silent acquisition (cached access token) through DelegatedAuth.acquireSilent, ${samples} samples per size`);
    console.log(`  partition size ${serialized.length} bytes (as MSAL wrote it), SQLite store with AES-256-GCM at rest`);
    await seed(store, template, from, tid, oids, small);
    const a = await measure(auth, tid, oids, samples, scopes);
    console.log(`  ${String(small).padStart(7)} users   p50 ${a.p50.toFixed(3)} ms   p99 ${a.p99.toFixed(3)} ms`);
    await seed(store, template, from, tid, oids, large);
    const b = await measure(auth, tid, oids, samples, scopes);
    console.log(`  ${String(large).padStart(7)} users   p50 ${b.p50.toFixed(3)} ms   p99 ${b.p99.toFixed(3)} ms`);
    const entraCalls = sandbox.control.stats().entra.tokensIssued;
    console.log(
      `  ratio ${large}/${small} p50 ${(b.p50 / a.p50).toFixed(2)} (target ≤ 1.5)   p50 target ≤ 2 ms   database ${(statSync(dbFile).size / 1e6).toFixed(0)} MB`,
    );
    console.log(`  tokens issued by the sandbox during the run: ${JSON.stringify(entraCalls)} (silent calls must not hit the network)`);
  } finally {
    await store.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
