import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Certificates for the fake upstream's HTTPS mode: a CA made for the run and a server certificate
 * it signs for 127.0.0.1 and localhost. Clients trust the CA the way an operator would trust a
 * private one, through Node's NODE_EXTRA_CA_CERTS (read once, when a process starts); nothing
 * turns certificate checks off.
 */
export interface TestCertificates {
  dir: string;
  caFile: string;
  keyFile: string;
  certFile: string;
}

const files = (dir: string): TestCertificates => ({ dir, caFile: join(dir, 'ca.pem'), keyFile: join(dir, 'server.key'), certFile: join(dir, 'server.pem') });

/** Makes them with the openssl CLI into `dir` (a new temporary folder by default). */
export function makeTestCertificates(dir = mkdtempSync(join(tmpdir(), 'cgw-tls-'))): TestCertificates {
  const out = files(dir);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', out.caFile, '-days', '7', '-subj', '/CN=copilot-gateway test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...ec, '-keyout', out.keyFile, '-out', join(dir, 'server.csr'), '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', join(dir, 'server.csr'), '-CA', out.caFile, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '7',
    '-extfile', join(dir, 'server.ext'), '-out', out.certFile);
  return out;
}

/**
 * For global-setup: the run's certificates, trusted by every process started after it (Vitest's
 * forked workers inherit the environment, and so do the processes they spawn with it).
 */
export function setupTestTls(): TestCertificates {
  const certs = makeTestCertificates();
  process.env.NODE_EXTRA_CA_CERTS = certs.caFile;
  process.once('exit', () => rmSync(certs.dir, { recursive: true, force: true }));
  return certs;
}

/** In a test worker: the run's certificates (global-setup made them). */
export function testCertificates(): TestCertificates {
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (!ca || !existsSync(ca)) throw new Error('no test CA: test/support/global-setup.ts makes it and sets NODE_EXTRA_CA_CERTS');
  return files(dirname(ca));
}

/** What the fake's `tls` option takes. */
export function fakeTls(): { key: Buffer; cert: Buffer } {
  const { keyFile, certFile } = testCertificates();
  return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

/** The environment a spawned process needs to trust the fake (startProcess passes on only what it is given). */
export function trustEnv(): Record<string, string> {
  return { NODE_EXTRA_CA_CERTS: testCertificates().caFile };
}
