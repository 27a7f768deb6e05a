import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

const KEY = Buffer.alloc(32, 7).toString('base64');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'cc-config-'));
const load = (env: Record<string, string>, warn?: (m: string) => void) => loadConfig(env, { dataDir: tmp(), warn });

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('defaults to the sandbox on an empty environment, loudly, with a generated development key', () => {
    const warnings: string[] = [];
    const dir = tmp();
    const config = loadConfig({}, { dataDir: dir, warn: (m) => warnings.push(m) });
    expect(config.sandbox).toBe(true);
    expect(config.port).toBe(3978);
    expect(config.tabEndpoint).toBe('http://localhost:3978');
    expect(config.tabDomain).toBe('localhost:3978');
    expect(config.dataStore).toBe(`sqlite:${path.join(dir, 'connection-center.db')}`);
    expect(config.encryptionKeyGenerated).toBe(true);
    expect(warnings.join('\n')).toMatch(/ENCRYPTION_KEY is not set/);
    const keyFile = path.join(dir, 'encryption.key');
    expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    // The same key is reused on the next start, so data written before stays readable.
    const again = loadConfig({}, { dataDir: dir });
    expect(again.encryptionKeys[0]!.key.equals(config.encryptionKeys[0]!.key)).toBe(true);
  });

  it('is frozen', () => {
    const config = load({ ENCRYPTION_KEY: KEY });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.aad)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow();
  });

  it('treats empty values as unset', () => {
    const config = load({ BOT_ID: '', SECRET_BOT_PASSWORD: '', AAD_APP_CLIENT_ID: '  ', ENCRYPTION_KEY: KEY, PORT: '' });
    expect(config.bot.id).toBeUndefined();
    expect(config.sandbox).toBe(true);
    expect(config.port).toBe(3978);
  });

  it('reads a configured tenant', () => {
    const config = load({
      AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      SECRET_AAD_APP_CLIENT_SECRET: 'abc~secret-value',
      // ADMIN_UPNS needs a home tenant (a multi-tenant deployment refuses it).
      AAD_APP_TENANT_ID: '66305621-97b8-41f8-953b-d70d11d91d5b',
      TAB_ENDPOINT: 'https://cc.contoso.com/',
      ENCRYPTION_KEY: KEY,
      ADMIN_UPNS: 'Ada@Contoso.com, bob@contoso.com',
    });
    expect(config.sandbox).toBe(false);
    expect(config.tabEndpoint).toBe('https://cc.contoso.com');
    expect(config.tabDomain).toBe('cc.contoso.com');
    expect(config.aad.authorityHost).toBe('https://login.microsoftonline.com');
    expect(config.graphEndpoint).toBe('https://graph.microsoft.com');
    expect(config.adminUpns).toEqual(['ada@contoso.com', 'bob@contoso.com']);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT', /whole number|number/i],
    [{ PORT: '70000' }, 'PORT', /0–65535/],
    [{ TAB_ENDPOINT: 'ftp://x' }, 'TAB_ENDPOINT', /https/],
    [{ TAB_ENDPOINT: 'http://cc.contoso.com' }, 'TAB_ENDPOINT', /localhost/],
    [{ AAD_APP_CLIENT_ID: 'not-a-guid' }, 'AAD_APP_CLIENT_ID', /GUID/],
    [{ AAD_APP_OAUTH_AUTHORITY_HOST: 'http://login.example' }, 'AAD_APP_OAUTH_AUTHORITY_HOST', /https/],
    [{ DATA_STORE: 'postgres://x' }, 'DATA_STORE', /sqlite:/],
    [{ DATA_STORE: 'postgres://cc:pw@db.internal:5432' }, 'DATA_STORE', /postgres:\/\/user:pass@host:port\/db/],
    [{ DATA_STORE: 'mysql://cc@db.internal/cc' }, 'DATA_STORE', /sqlite:/],
    [{ ENCRYPTION_KEY: 'c2hvcnQ=' }, 'ENCRYPTION_KEY', /32 bytes/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /./],
    [{ BOT_ID: '11111111-2222-3333-4444-555555555555' }, 'SECRET_BOT_PASSWORD', /required/],
    [{ AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555', AAD_APP_TENANT_ID: 'organizations' }, 'SECRET_AAD_APP_CLIENT_SECRET', /required/],
    [
      {
        AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
        AAD_APP_TENANT_ID: 'organizations',
        SECRET_AAD_APP_CLIENT_SECRET: '11111111-2222-3333-4444-555555555555',
      },
      'SECRET_AAD_APP_CLIENT_SECRET',
      /Secret ID/,
    ],
  ])('rejects %j naming %s', (env, key, pattern) => {
    const err = errorOf(() => load({ ENCRYPTION_KEY: KEY, ...env } as Record<string, string>));
    expect(err.key).toBe(key);
    expect(err.message).toContain(key);
    expect(err.message).toMatch(pattern);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('never echoes a secret value in its error', () => {
    const err = errorOf(() => load({ ENCRYPTION_KEY: 'super-secret-but-wrong' }));
    expect(err.message).not.toContain('super-secret-but-wrong');
    for (const dataStore of ['postgres://cc:db-password-123@db.internal:5432/', 'postgres://cc:db-pass@word-123@db.internal:5432']) {
      const pg = errorOf(() => load({ ENCRYPTION_KEY: KEY, DATA_STORE: dataStore }));
      expect(pg.message).toContain('cc:***@db.internal');
      expect(pg.message).not.toMatch(/db-pass|word-123/);
    }
  });

  it('accepts a PostgreSQL DATA_STORE naming a host and a database', () => {
    for (const url of ['postgres://cc:p%40ss@db.internal:5432/cc', 'postgresql://cc@127.0.0.1/connection_center?sslmode=require']) {
      expect(load({ ENCRYPTION_KEY: KEY, DATA_STORE: url }).dataStore).toBe(url);
    }
  });

  it('refuses the sandbox and a missing key in production', () => {
    expect(errorOf(() => load({ NODE_ENV: 'production', ENCRYPTION_KEY: KEY, TAB_ENDPOINT: 'https://cc.contoso.com' })).key).toBe('AAD_APP_CLIENT_ID');
    const tenant = {
      AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      AAD_APP_TENANT_ID: 'organizations',
      SECRET_AAD_APP_CLIENT_SECRET: 'abc~value',
      TAB_ENDPOINT: 'https://cc.contoso.com',
      BOT_ID: '22222222-3333-4444-5555-666666666666',
      SECRET_BOT_PASSWORD: 'bot~value',
    };
    expect(errorOf(() => load({ NODE_ENV: 'production', ...tenant })).key).toBe('ENCRYPTION_KEY');
    expect(load({ NODE_ENV: 'production', ENCRYPTION_KEY: KEY, ...tenant }).sandbox).toBe(false);
  });

  it('warns about unknown keys with our prefixes but accepts the Agents Toolkit ones', () => {
    const warnings: string[] = [];
    load({ ENCRYPTION_KEY: KEY, AAD_APP_CLIENTID: 'x', TAB_DOMAIN: 'localhost:3978', BOT_ENDPOINT: 'https://x' }, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringContaining('AAD_APP_CLIENTID')]);
  });

  it('accepts several keys for rotation, the first one encrypting', () => {
    const other = Buffer.alloc(32, 9).toString('base64');
    const config = load({ ENCRYPTION_KEY: `${KEY},${other}` });
    expect(config.encryptionKeys).toHaveLength(2);
    expect(config.encryptionKeys[0]!.id).not.toBe(config.encryptionKeys[1]!.id);
  });

  describe('the bot in production', () => {
    const production = {
      NODE_ENV: 'production',
      ENCRYPTION_KEY: KEY,
      AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      AAD_APP_TENANT_ID: '66305621-97b8-41f8-953b-d70d11d91d5b',
      SECRET_AAD_APP_CLIENT_SECRET: 'abc~value',
      TAB_ENDPOINT: 'https://cc.contoso.com',
      BOT_ID: '22222222-3333-4444-5555-666666666666',
      SECRET_BOT_PASSWORD: 'bot~value',
    };

    it('refuses an anonymous bot: BOT_ID and SECRET_BOT_PASSWORD are required', () => {
      const noId = errorOf(() => load({ ...production, BOT_ID: '' }));
      expect(noId.key).toBe('BOT_ID');
      expect(noId.message).toMatch(/^Configuration error: BOT_ID is required when NODE_ENV=production/);
      const noPassword = errorOf(() => load({ ...production, SECRET_BOT_PASSWORD: '' }));
      expect(noPassword.key).toBe('SECRET_BOT_PASSWORD');
      expect(noPassword.message).toMatch(/required when NODE_ENV=production/);
      const neither = errorOf(() => load({ ...production, BOT_ID: '', SECRET_BOT_PASSWORD: '' }));
      expect(neither.message).toMatch(/BOT_ID .*SECRET_BOT_PASSWORD/);
      expect(load(production).bot.id).toBe(production.BOT_ID);
    });

    it('still runs an anonymous bot outside production (local runs)', () => {
      expect(load({ ...production, NODE_ENV: 'development', BOT_ID: '', SECRET_BOT_PASSWORD: '' }).bot.id).toBeUndefined();
    });
  });

  describe('admins', () => {
    const tenant = {
      ENCRYPTION_KEY: KEY,
      AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      SECRET_AAD_APP_CLIENT_SECRET: 'abc~value',
    };

    it('takes the home tenant for ADMIN_UPNS from AAD_APP_TENANT_ID', () => {
      const config = load({ ...tenant, AAD_APP_TENANT_ID: '66305621-97B8-41F8-953B-D70D11D91D5B', ADMIN_UPNS: 'ada@contoso.com' });
      expect(config.homeTenantId).toBe('66305621-97b8-41f8-953b-d70d11d91d5b');
      expect(config.adminUpns).toEqual(['ada@contoso.com']);
    });

    it('refuses ADMIN_UPNS in a multi-tenant deployment, which has no home tenant', () => {
      const err = errorOf(() => load({ ...tenant, AAD_APP_TENANT_ID: 'organizations', ADMIN_UPNS: 'ada@contoso.com' }));
      expect(err.key).toBe('ADMIN_UPNS');
      expect(err.message).toMatch(/^Configuration error: ADMIN_UPNS needs a home tenant/);
      expect(err.message).not.toContain('\n');
      expect(load({ ...tenant, AAD_APP_TENANT_ID: 'organizations' }).homeTenantId).toBeUndefined();
    });

    it('accepts ADMIN_UPNS in sandbox mode (the sandbox tenant is home)', () => {
      expect(load({ ENCRYPTION_KEY: KEY, ADMIN_UPNS: 'alex.wilber@contoso.com' }).adminUpns).toEqual(['alex.wilber@contoso.com']);
    });

    it('reads ADMIN_PROOF_MAX_DAYS: 7 by default, whole days from 1 to 365', () => {
      expect(load({ ENCRYPTION_KEY: KEY }).adminProofMaxDays).toBe(7);
      expect(load({ ENCRYPTION_KEY: KEY, ADMIN_PROOF_MAX_DAYS: '30' }).adminProofMaxDays).toBe(30);
      for (const bad of ['0', '1.5', 'week', '366']) {
        const err = errorOf(() => load({ ENCRYPTION_KEY: KEY, ADMIN_PROOF_MAX_DAYS: bad }));
        expect(err.key).toBe('ADMIN_PROOF_MAX_DAYS');
        expect(err.message).toContain(`(got "${bad}")`);
      }
    });
  });
});
