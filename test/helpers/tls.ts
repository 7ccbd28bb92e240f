/**
 * @module test/helpers/tls
 * A self-signed certificate for STARTTLS and SMTPS tests, made with the openssl CLI: EC P-256
 * (fast to generate), valid for two days, with subjectAltName DNS:<cn>, IP:127.0.0.1 and IP:::1
 * so clients can verify it by name or by loopback address (RFC 6125 §6.4, §6.2.1).
 *
 * One key pair per common name per process; each call copies it into the caller's directory,
 * so a test may delete its directory without breaking a later test.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
}

const made = new Map<string, TestCert>();
let cacheDir: string | undefined;

function generate(cn: string): TestCert {
  if (!/^[A-Za-z0-9.-]+$/.test(cn)) throw new RangeError(`makeTestCert: "${cn}" is not a host name`);
  if (!cacheDir) {
    const dir = mkdtempSync(join(tmpdir(), 'mxguard-cert-'));
    cacheDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const cert = { certFile: join(cacheDir, `${cn}.crt`), keyFile: join(cacheDir, `${cn}.key`) };
  execFileSync('openssl', [
    'req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-keyout', cert.keyFile, '-out', cert.certFile, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', `subjectAltName=DNS:${cn},IP:127.0.0.1,IP:::1`,
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  return cert;
}

/** makeTestCert - `cn`'s certificate and key, copied into `dir` as `<cn>.crt` and `<cn>.key`. */
export function makeTestCert(dir: string, cn = 'mx.example.test'): TestCert {
  let src = made.get(cn);
  if (!src) { src = generate(cn); made.set(cn, src); }
  const out = { certFile: join(dir, `${cn}.crt`), keyFile: join(dir, `${cn}.key`) };
  copyFileSync(src.certFile, out.certFile);
  copyFileSync(src.keyFile, out.keyFile);
  return out;
}
