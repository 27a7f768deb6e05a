/**
 * What the sandbox stands on: the local CA and server certificate, the seed data (it must cover every
 * connection kind and state), the sign-in help, and the refusal to run in production.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, promises as fs, statSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONNECTION_KINDS, CONNECTION_STATES } from '../../src/domain/connection';
import { describeDemoUsers, ensureCertificates, loadContosoSeed, parseSeed, startSandbox } from '../../src/sandbox';

describe('certificates', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-certs-'));
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  test('creates a CA and a server certificate for 127.0.0.1, ::1 and localhost; keys are private', async () => {
    const certs = await ensureCertificates(dir);
    const ca = new X509Certificate(await fs.readFile(certs.caCertPath, 'utf8'));
    const server = new X509Certificate(certs.certPem);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBeTruthy();
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('example.com')).toBeUndefined();
    for (const key of ['ca.key', 'server.key']) expect(statSync(path.join(dir, key)).mode & 0o777).toBe(0o600);
  });

  test('reuses valid files, and replaces a broken server certificate while keeping the CA', async () => {
    const first = await ensureCertificates(dir);
    const caBefore = await fs.readFile(first.caCertPath, 'utf8');
    const again = await ensureCertificates(dir);
    expect(again.certPem).toBe(first.certPem);
    await fs.writeFile(path.join(dir, 'server.crt'), 'not a certificate');
    const repaired = await ensureCertificates(dir);
    expect(repaired.certPem).not.toBe(first.certPem);
    expect(await fs.readFile(repaired.caCertPath, 'utf8')).toBe(caBefore);
    expect(new X509Certificate(repaired.certPem).checkIssued(new X509Certificate(caBefore))).toBe(true);
  });

  test('a TLS client that trusts only the CA connects to 127.0.0.1 and localhost', async () => {
    const certs = await ensureCertificates(dir);
    const server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const ca = await fs.readFile(certs.caCertPath);
    const get = (host: string) =>
      new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', servername: host === 'localhost' ? 'localhost' : undefined, port, ca, path: '/', headers: { host } }, (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    try {
      expect(await get('127.0.0.1')).toBe('ok');
      expect(await get('localhost')).toBe('ok');
      await expect(new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port, path: '/' }, resolve).on('error', reject))).rejects.toThrow(
        /self.signed|unable to verify|certificate/i,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('seed', () => {
  const seed = loadContosoSeed();

  test('covers every connection kind and state, and the cases the product must explain', () => {
    expect(new Set(seed.legacyConnections.map((c) => c.kind))).toEqual(new Set(CONNECTION_KINDS));
    expect(new Set(seed.legacyConnections.map((c) => c.state))).toEqual(new Set(CONNECTION_STATES));
    expect(seed.users.length).toBeGreaterThanOrEqual(12);
    expect(seed.legacyConnections.filter((c) => c.kind === 'ews-basic').length).toBeGreaterThanOrEqual(3);
    expect(seed.users.some((u) => u.mailbox === 'notRestEnabled')).toBe(true);
    expect(seed.users.some((u) => !u.inAccessPolicy)).toBe(true);
    expect(seed.users.some((u) => u.presetConsent === 'decline')).toBe(true);
    expect(seed.users.some((u) => u.presetConsent === 'adminApproval')).toBe(true);
    expect(seed.users.some((u) => u.refreshRevoked)).toBe(true);
    expect(seed.users.filter((u) => u.roles?.includes('ConnectionCenter.Admin')).map((u) => u.upn)).toEqual(['adele.vance@contoso.com']);
    expect(seed.tenant.domains.filter((d) => d.isVerified).map((d) => d.name)).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);
    const now = Date.now();
    expect(seed.serviceAccount.secrets.some((s) => Date.parse(s.endDateTime) > now)).toBe(true);
    expect(seed.serviceAccount.secrets.some((s) => Date.parse(s.endDateTime) <= now)).toBe(true);
    expect(seed.serviceAccount.grantedRoles).not.toContain('Mail.ReadWrite');
    expect(seed.otherTenants[0].tenant.id).not.toBe(seed.tenant.id);
  });

  test('is validated: duplicates, bad ids and unknown legacy users are refused with the path named', () => {
    const dup = loadContosoSeed();
    dup.users.push({ ...dup.users[0], oid: '00000000-0000-4000-8000-000000000001' });
    expect(() => parseSeed(dup)).toThrow(/appears twice/);
    const badId = loadContosoSeed() as unknown as { tenant: { id: string } };
    badId.tenant.id = 'contoso';
    expect(() => parseSeed(badId)).toThrow(/tenant\.id/);
    const orphan = loadContosoSeed();
    orphan.legacyConnections.push({ upn: 'ghost@contoso.com', kind: 'ews-basic', state: 'connected' });
    expect(() => parseSeed(orphan)).toThrow(/ghost@contoso.com/);
  });

  test('the sign-in help names every demo user and the service account secret value', () => {
    const text = describeDemoUsers(seed);
    for (const u of [...seed.users, ...seed.otherTenants.flatMap((t) => t.users)]) expect(text).toContain(u.upn);
    const valid = seed.serviceAccount.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!;
    expect(text).toContain(valid.value);
    expect(text).toContain(seed.serviceAccount.clientId);
  });
});

describe('safety', () => {
  test('refuses NODE_ENV=production and non-loopback addresses', async () => {
    const certs = await ensureCertificates(process.env.SANDBOX_CERTS_DIR ?? mkdtempSync(path.join(tmpdir(), 'cc-certs-')));
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(startSandbox({ certs, productRedirectUris: [] })).rejects.toThrow(/production/);
    } finally {
      process.env.NODE_ENV = before;
    }
    await expect(startSandbox({ certs, productRedirectUris: [], host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });
});
