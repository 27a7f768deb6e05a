/**
 * A local certificate authority and a server certificate for 127.0.0.1, ::1 and localhost, so the
 * sandbox serves real HTTPS that Node trusts through NODE_EXTRA_CA_CERTS (MSAL and the Graph client
 * refuse http authorities). Created once under `dir` and reused while valid; keys are mode 0600.
 * Keys are ECDSA P-256: generated in about a millisecond where RSA 2048 takes a noticeable part of a
 * first start, and the certificate library is loaded only when something has to be generated.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface CertificateFiles {
  /** PEM file of the CA: point NODE_EXTRA_CA_CERTS here. */
  caCertPath: string;
  certPem: string;
  keyPem: string;
}

const FILES = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'server.crt', key: 'server.key' };
const SERVER_DAYS = 397;
const CA_YEARS = 10;
/** Regenerate when the server certificate has less than this left. */
const RENEW_BEFORE_MS = 7 * 86_400_000;
const KEY = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;

/** selfsigned (and the X.509 stack under it) costs a few hundred ms to load: only when generating. */
async function generate(...args: Parameters<typeof import('selfsigned').generate>): ReturnType<typeof import('selfsigned').generate> {
  const selfsigned = await import('selfsigned');
  return selfsigned.generate(...args);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The stored pair is usable: server cert signed by the CA, for our names, key matching, not near expiry. */
function stillValid(caPem: string, certPem: string, keyPem: string): boolean {
  try {
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    const now = Date.now();
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (Date.parse(cert.validTo) - now < RENEW_BEFORE_MS || Date.parse(ca.validTo) - now < RENEW_BEFORE_MS) return false;
    if (!cert.checkIP('127.0.0.1') || !cert.checkHost('localhost')) return false;
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' });
    return fromKey === cert.publicKey.export({ type: 'spki', format: 'pem' });
  } catch {
    return false;
  }
}

/** Write via a temporary file and rename, so a concurrent reader never sees half a PEM. */
async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(tmp, content, { mode });
  await fs.chmod(tmp, mode);
  await fs.rename(tmp, file);
}

export async function ensureCertificates(dir: string): Promise<CertificateFiles> {
  const abs = path.resolve(dir);
  await fs.mkdir(abs, { recursive: true, mode: 0o700 });
  const p = (name: string) => path.join(abs, name);
  const [caPem, caKey, certPem, keyPem] = await Promise.all([
    readIfExists(p(FILES.caCert)),
    readIfExists(p(FILES.caKey)),
    readIfExists(p(FILES.cert)),
    readIfExists(p(FILES.key)),
  ]);
  if (caPem && certPem && keyPem && stillValid(caPem, certPem, keyPem)) return { caCertPath: p(FILES.caCert), certPem, keyPem };

  // Reuse a still-good CA so a browser or OS that was told to trust it keeps trusting it.
  let ca: { cert: string; key: string };
  let caOk = false;
  if (caPem && caKey) {
    try {
      const c = new X509Certificate(caPem);
      const fromKey = createPublicKey(createPrivateKey(caKey)).export({ type: 'spki', format: 'pem' });
      caOk = c.ca && Date.parse(c.validTo) - Date.now() > RENEW_BEFORE_MS && fromKey === c.publicKey.export({ type: 'spki', format: 'pem' });
    } catch {
      caOk = false;
    }
  }
  if (caOk && caPem && caKey) ca = { cert: caPem, key: caKey };
  else {
    const now = new Date();
    const generated = await generate(
      [
        { name: 'commonName', value: 'Connection Center Sandbox CA' },
        { name: 'organizationName', value: 'Connection Center (local sandbox)' },
      ],
      {
        ...KEY,
        notBeforeDate: new Date(now.getTime() - 60_000),
        notAfterDate: new Date(now.getTime() + CA_YEARS * 365 * 86_400_000),
        extensions: [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        ],
      },
    );
    ca = { cert: generated.cert, key: generated.private };
    await writeAtomic(p(FILES.caKey), ca.key, 0o600);
    await writeAtomic(p(FILES.caCert), ca.cert, 0o644);
  }

  const now = new Date();
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...KEY,
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + SERVER_DAYS * 86_400_000),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await writeAtomic(p(FILES.key), server.private, 0o600);
  await writeAtomic(p(FILES.cert), server.cert, 0o644);
  return { caCertPath: p(FILES.caCert), certPem: server.cert, keyPem: server.private };
}
