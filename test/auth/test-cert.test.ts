// The TLS test helper: AUTH is offered only over TLS, so the auth tests and others need a
// certificate that a verifying client accepts by host name and by loopback address.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { makeTestCert } from '../helpers/tls.js';

test('makeTestCert gives a certificate a verifying client accepts by name and by 127.0.0.1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxguard-cert-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { certFile, keyFile } = makeTestCert(dir);
  assert.equal(certFile, join(dir, 'mx.example.test.crt'));
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  // A second call reuses the key pair made for this common name.
  const again = makeTestCert(dir);
  assert.deepEqual(await readFile(again.certFile), cert);

  const server = createServer({ cert, key }, (s) => s.end('hello\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;

  const greet = (servername?: string) => new Promise<string>((resolve, reject) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, ca: cert, servername, rejectUnauthorized: true }, () => {
      let data = '';
      s.on('data', (b: Buffer) => { data += b.toString(); });
      s.on('end', () => resolve(data));
    });
    s.on('error', reject);
  });
  assert.equal(await greet('mx.example.test'), 'hello\n');
  assert.equal(await greet(), 'hello\n');                      // checked against IP:127.0.0.1
  await assert.rejects(greet('other.example.test'), /altnames|Hostname/);
});
