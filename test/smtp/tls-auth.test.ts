/**
 * STARTTLS (RFC 3207), implicit TLS (RFC 8314) and AUTH (RFC 4954) on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedGateway, startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { makeTestCert } from '../helpers/tls.js';
import { runCli } from '../helpers/run-cli.js';
import { freePort } from '../helpers/ports.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let implicitPort: number;
const shared = sharedGateway(async (cleanup) => {
  const certDir = mkdtempSync(join(tmpdir(), 'mxg-cert-'));
  cleanup(() => rmSync(certDir, { recursive: true, force: true }));
  const cert = makeTestCert(certDir);
  implicitPort = await freePort();
  return { smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile, smtpd_tls_security_level: 'may' };
}, {
  master: (port) => `127.0.0.1:${port} inet n - n - - smtpd\n127.0.0.1:${implicitPort} inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n  -o syslog_name=postfix/smtps\n`,
}, async (gw) => {
  const r = await runCli(['passwd', 'add', 'alice', '--config', gw.dir], { input: 's3cret pass\n' });
  assert.equal(r.code, 0, r.stderr);
});
const gwRef = () => shared.gw;

async function connect(t: { after: (f: () => void) => void }, port = gwRef().port, opts: { tls?: boolean; localAddress?: string } = {}) {
  const c = await SmtpTestClient.connect(port, opts);
  t.after(() => c.destroy());
  assert.equal((await c.read()).code, 220);
  return c;
}

async function startTls(c: SmtpTestClient) {
  assert.equal((await c.cmd('EHLO tls.example')).code, 250);
  const r = await c.cmd('STARTTLS');
  assert.deepEqual([r.code, r.status], [220, '2.0.0']);
  await c.startTls();
}

test('STARTTLS is offered; AUTH only after TLS; EHLO state is reset by TLS', async (t) => {
  const c = await connect(t);
  const e = await c.cmd('EHLO tls.example');
  assert.ok(e.text.includes('STARTTLS'));
  assert.ok(!e.text.some((l) => l.startsWith('AUTH')));
  assert.equal((await c.cmd('STARTTLS')).code, 220);
  await c.startTls();
  // RFC 3207 §4.2: the client must EHLO again; MAIL without it is still allowed by RFC 5321 but AUTH needs EHLO.
  assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret pass'))).code, 503);
  const e2 = await c.cmd('EHLO tls.example');
  assert.ok(e2.text.includes('AUTH PLAIN LOGIN'));
  assert.ok(!e2.text.includes('STARTTLS'), 'no STARTTLS inside TLS');
  assert.deepEqual(await c.cmd('STARTTLS').then((x) => [x.code, x.status]), [554, '5.5.1']);
});

test('commands pipelined after STARTTLS in plaintext are discarded (CVE-2011-0411)', async (t) => {
  const c = await connect(t);
  await c.cmd('EHLO inject.example');
  c.send('STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n');
  assert.equal((await c.read()).code, 220);
  await c.startTls();
  await c.cmd('EHLO inject.example');
  // Had the injected MAIL been acted on, this would be a nested MAIL (503).
  assert.equal((await c.cmd('MAIL FROM:<real@remote.test>')).code, 250);
});

test('AUTH PLAIN and LOGIN: success, failure with 535 5.7.8, and a logged warning', async (t) => {
  const c = await connect(t);
  await startTls(c);
  await c.cmd('EHLO tls.example');
  assert.deepEqual(await c.cmd('AUTH PLAIN ' + b64('\0alice\0wrong')).then((x) => [x.code, x.status]), [535, '5.7.8']);
  const ok = await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret pass'));
  assert.deepEqual([ok.code, ok.status, ok.text[0]], [235, '2.7.0', 'Authentication successful']);
  assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret pass'))).code, 503, 'already authenticated');
  await gwRef().waitLog(/warning: unknown\[127\.0\.0\.1\]: SASL PLAIN authentication failed: authentication failure/);

  const l = await connect(t);
  await startTls(l);
  await l.cmd('EHLO tls.example');
  assert.deepEqual(await l.cmd('AUTH LOGIN').then((x) => [x.code, x.text[0]]), [334, 'VXNlcm5hbWU6']);
  assert.deepEqual(await l.cmd(b64('alice')).then((x) => [x.code, x.text[0]]), [334, 'UGFzc3dvcmQ6']);
  assert.equal((await l.cmd(b64('s3cret pass'))).code, 235);
  const a = await connect(t);
  await startTls(a);
  await a.cmd('EHLO tls.example');
  assert.equal((await a.cmd('AUTH PLAIN')).code, 334);
  assert.deepEqual(await a.cmd('*').then((x) => [x.code, x.status]), [501, '5.7.0']);
  assert.deepEqual(await a.cmd('AUTH CRAM-MD5').then((x) => [x.code]), [535]);
  assert.deepEqual(await a.cmd('AUTH PLAIN !!notbase64').then((x) => [x.code, x.status]), [501, '5.5.2']);
});

test('an authenticated client from outside mynetworks may relay; the same client unauthenticated may not', async (t) => {
  const c = await connect(t, gwRef().port, { localAddress: '127.0.0.30' });
  await startTls(c);
  await c.cmd('EHLO outside.example');
  await c.cmd('MAIL FROM:<alice@example.test>');
  assert.equal((await c.cmd('RCPT TO:<friend@remote.test>')).code, 454);
  await c.cmd('RSET');
  assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret pass'))).code, 235);
  await c.cmd('MAIL FROM:<alice@example.test>');
  assert.equal((await c.cmd('RCPT TO:<friend@remote.test>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  const r = await c.cmd('Subject: relayed\r\n\r\nhi\r\n.');
  assert.equal(r.code, 250);
  const id = /queued as (\w+)/.exec(r.text[0]!)![1];
  await gwRef().waitLog(new RegExp(`${id}: client=unknown\\[127\\.0\\.0\\.30\\], sasl_method=PLAIN, sasl_username=alice`));
});

test('implicit TLS (smtpd_tls_wrappermode): TLS from the first byte, AUTH offered at once, own syslog_name', async (t) => {
  const c = await connect(t, implicitPort, { tls: true });
  const e = await c.cmd('EHLO wrapped.example');
  assert.ok(e.text.includes('AUTH PLAIN LOGIN'));
  assert.ok(!e.text.includes('STARTTLS'));
  assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret pass'))).code, 235);
  await c.cmd('QUIT');
  await gwRef().waitLog(/postfix\/smtps\/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\] ehlo=1 auth=1 quit=1 commands=3/);
});

test('smtpd_tls_security_level = encrypt: 530 before STARTTLS; misconfiguration without a certificate stops start-up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-enc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = makeTestCert(dir);
  const g = await startGateway(t, { smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile, smtpd_tls_security_level: 'encrypt' });
  const c = await SmtpTestClient.connect(g.port);
  t.after(() => c.destroy());
  await c.read();
  await c.cmd('EHLO enc.example');
  assert.deepEqual(await c.cmd('MAIL FROM:<a@remote.test>').then((x) => [x.code, x.status, x.text[0]]), [530, '5.7.0', 'Must issue a STARTTLS command first']);
  const bad = await startGateway(t, {}, {}).catch((e: Error) => e);
  assert.ok(!(bad instanceof Error), 'plain config starts');
  const dir2 = mkdtempSync(join(tmpdir(), 'mxg-enc2-'));
  t.after(() => rmSync(dir2, { recursive: true, force: true }));
  const r = await startGateway(t, { smtpd_tls_security_level: 'encrypt' }, { dir: dir2 }).then(() => undefined, (e: Error) => e);
  assert.ok(r instanceof Error);
  assert.match(r.message, /smtpd_tls_security_level = encrypt needs smtpd_tls_cert_file/);
});
