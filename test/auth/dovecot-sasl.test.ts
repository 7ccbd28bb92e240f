/**
 * SMTP AUTH relayed to a real Dovecot auth server (`smtpd_sasl_type = dovecot`): a private
 * Dovecot (test/helpers/dovecot.ts) serves its auth protocol on a unix socket, and a real
 * mxguard gateway points `smtpd_sasl_path` at it. Skipped, with the reason, when Dovecot is not
 * installed and MXGUARD_REQUIRE_SYSTEM_DEPS is unset.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDovecot } from '../helpers/dovecot.js';
import { startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { makeTestCert } from '../helpers/tls.js';
import { offerable, parseSaslPath } from '../../src/auth/dovecot-sasl.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('latin1');
/** Not in mynetworks (127.0.0.1/32): only SASL can make this client relay. */
const OUTSIDER = '127.0.0.9';
/** Wrong passwords come from here: Dovecot's auth penalty delays every later request from an address that failed. */
const GUESSER = '127.0.0.10';

test('smtpd_sasl_path: unix paths (relative to $queue_directory) and inet:host:port', () => {
  assert.deepEqual(parseSaslPath('private/auth', '/var/spool/mxguard'), { kind: 'unix', path: '/var/spool/mxguard/private/auth' });
  assert.deepEqual(parseSaslPath('/run/dovecot/auth-client', '/q'), { kind: 'unix', path: '/run/dovecot/auth-client' });
  assert.deepEqual(parseSaslPath('inet:127.0.0.1:12345', '/q'), { kind: 'inet', host: '127.0.0.1', port: 12345 });
  assert.deepEqual(parseSaslPath('inet:[::1]:12345', '/q'), { kind: 'inet', host: '::1', port: 12345 });
  assert.equal(typeof parseSaslPath('inet:127.0.0.1', '/q'), 'string');
  assert.equal(typeof parseSaslPath('inet:host:99999', '/q'), 'string');
});

test('security options filter Dovecot\'s MECH flags as Postfix does', () => {
  const m = (name: string, ...flags: string[]) => ({ name, flags: new Set(flags) });
  const mechs = [m('PLAIN', 'plaintext'), m('LOGIN', 'plaintext'), m('ANONYMOUS', 'anonymous'),
    m('CRAM-MD5', 'dictionary', 'active'), m('SCRAM-SHA-256', 'mutual-auth'), m('EXTERNAL'), m('OTP', 'private')];
  assert.deepEqual(offerable(mechs, ['noanonymous']), ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256']);
  assert.deepEqual(offerable(mechs, ['noanonymous', 'noplaintext']), ['CRAM-MD5', 'SCRAM-SHA-256']);
  assert.deepEqual(offerable(mechs, ['nodictionary']), ['PLAIN', 'LOGIN', 'ANONYMOUS', 'SCRAM-SHA-256']);
  assert.deepEqual(offerable(mechs, ['mutual_auth']), ['SCRAM-SHA-256']);
});

async function client(t: TestContext, port: number, localAddress = OUTSIDER): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.connect(port, { localAddress });
  t.after(() => c.destroy());
  assert.equal((await c.read()).code, 220);
  return c;
}

async function ehloAuth(c: SmtpTestClient): Promise<string[]> {
  const e = await c.cmd('EHLO client.example');
  assert.equal(e.code, 250);
  const line = e.text.find((l) => l.startsWith('AUTH '));
  return line ? line.slice(5).split(' ').sort() : [];
}

test('AUTH through a real Dovecot: PLAIN, LOGIN, CRAM-MD5, failures, relaying, outage and recovery', async (t) => {
  const dovecot = await startDovecot(t, {
    passwords: { alice: 's3cret', bob: 'hunter2' },
    authSocket: true,
    // ANONYMOUS is announced but must not be offered (noanonymous); CRAM-MD5 is relayed as is.
    extraConfig: ['auth_mechanisms = plain login cram-md5 anonymous', 'auth_anonymous_username = anon', 'auth_failure_delay = 0'],
  });
  if (!dovecot) return;  // skipped: Dovecot is not installed
  const certDir = mkdtempSync(join(tmpdir(), 'mxg-cert-'));
  t.after(() => rmSync(certDir, { recursive: true, force: true }));
  const cert = makeTestCert(certDir);
  const tlsOnlyPort = await freePort();
  const gw = await startGateway(t, {
    smtpd_sasl_type: 'dovecot',
    smtpd_sasl_path: dovecot.authSocket!,
    smtpd_tls_auth_only: 'no',
    smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile, smtpd_tls_security_level: 'may',
  }, {
    // A second service that offers AUTH only after STARTTLS.
    master: (port) => `127.0.0.1:${port} inet n - n - - smtpd\n127.0.0.1:${tlsOnlyPort} inet n - n - - smtpd\n  -o smtpd_tls_auth_only=yes\n`,
  });
  assert.ok(!/not supported/.test(gw.log()), gw.log());

  await t.test('EHLO offers Dovecot\'s mechanisms minus ANONYMOUS', async (t) => {
    const c = await client(t, gw.port);
    assert.deepEqual(await ehloAuth(c), ['CRAM-MD5', 'LOGIN', 'PLAIN']);
    const r = await c.cmd('AUTH ANONYMOUS');
    assert.deepEqual([r.code, r.status], [535, '5.7.8']);
  });

  await t.test('AUTH PLAIN succeeds, relays, and the user name is logged', async (t) => {
    const c = await client(t, gw.port);
    await ehloAuth(c);
    const before = await c.cmd('MAIL FROM:<alice@example.test>');
    assert.equal(before.code, 250);
    const denied = await c.cmd('RCPT TO:<someone@remote.example>');
    assert.ok(denied.code >= 400, `relay without AUTH: ${denied.raw}`);
    assert.equal((await c.cmd('RSET')).code, 250);
    const ok = await c.cmd(`AUTH PLAIN ${b64('\0alice\0s3cret')}`);
    assert.deepEqual([ok.code, ok.status], [235, '2.7.0']);
    assert.equal((await c.cmd('MAIL FROM:<alice@example.test>')).code, 250);
    const r = await c.cmd('RCPT TO:<someone@remote.example>');
    assert.equal(r.code, 250, `permit_sasl_authenticated: ${r.raw}`);
    await gw.waitLog(/client=unknown\[127\.0\.0\.9\], sasl_method=PLAIN, sasl_username=alice/);
  });

  await t.test('AUTH PLAIN with a wrong password: 535 and the fail2ban line', async (t) => {
    const c = await client(t, gw.port, GUESSER);
    await ehloAuth(c);
    const r = await c.cmd(`AUTH PLAIN ${b64('\0alice\0wrong')}`, 20_000);
    assert.deepEqual([r.code, r.status, r.text[0]], [535, '5.7.8', 'Error: authentication failed: authentication failure']);
    await gw.waitLog(/warning: unknown\[127\.0\.0\.10\]: SASL PLAIN authentication failed: authentication failure/);
    const other = await client(t, gw.port, '127.0.0.12');  // a fresh address: no penalty wait
    await ehloAuth(other);
    const u = await other.cmd(`AUTH PLAIN ${b64('\0nobody-here\0x')}`, 20_000);
    assert.equal(u.code, 535);
  });

  await t.test('AUTH LOGIN: Dovecot\'s challenges reach the client; success and failure', async (t) => {
    const c = await client(t, gw.port);
    await ehloAuth(c);
    const u = await c.cmd('AUTH LOGIN');
    assert.equal(u.code, 334);
    assert.match(unb64(u.text[0]!), /^Username:$/);
    const p = await c.cmd(b64('bob'));
    assert.equal(p.code, 334);
    assert.match(unb64(p.text[0]!), /^Password:$/);
    assert.equal((await c.cmd(b64('hunter2'))).code, 235);
    assert.equal((await c.cmd('MAIL FROM:<bob@example.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<x@remote.example>')).code, 250);
    await gw.waitLog(/sasl_method=LOGIN, sasl_username=bob/);

    const d = await client(t, gw.port, '127.0.0.11');  // not GUESSER: no penalty delay yet
    await ehloAuth(d);
    assert.equal((await d.cmd(`AUTH LOGIN ${b64('bob')}`, 20_000)).code, 334);
    const bad = await d.cmd(b64('nope'), 20_000);
    assert.deepEqual([bad.code, bad.status], [535, '5.7.8']);
    await gw.waitLog(/SASL LOGIN authentication failed: authentication failure/);

    // An abort in the middle: 501, and the connection stays usable.
    const e = await client(t, gw.port);
    await ehloAuth(e);
    assert.equal((await e.cmd('AUTH LOGIN')).code, 334);
    assert.deepEqual(await e.cmd('*').then((r) => [r.code, r.status]), [501, '5.7.0']);
    assert.equal((await e.cmd(`AUTH PLAIN ${b64('\0bob\0hunter2')}`)).code, 235);
  });

  await t.test('CRAM-MD5 is relayed: the challenge comes from Dovecot', async (t) => {
    const c = await client(t, gw.port);
    await ehloAuth(c);
    const ch = await c.cmd('AUTH CRAM-MD5');
    assert.equal(ch.code, 334);
    const digest = createHmac('md5', 's3cret').update(unb64(ch.text[0]!), 'latin1').digest('hex');
    const r = await c.cmd(b64(`alice ${digest}`));
    assert.equal(r.code, 235, r.raw);
  });

  await t.test('with smtpd_tls_auth_only = yes, AUTH comes after STARTTLS and works', async (t) => {
    const c = await client(t, tlsOnlyPort);
    assert.deepEqual(await ehloAuth(c), []);
    assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret'))).code, 503);
    assert.equal((await c.cmd('STARTTLS')).code, 220);
    await c.startTls();
    assert.deepEqual(await ehloAuth(c), ['CRAM-MD5', 'LOGIN', 'PLAIN']);
    assert.equal((await c.cmd('AUTH PLAIN ' + b64('\0alice\0s3cret'))).code, 235);
  });

  await t.test('Dovecot stopped: 454 4.7.0 and a warning, no crash; back again: AUTH works', async (t) => {
    await dovecot.stop();
    const c = await client(t, gw.port);
    assert.deepEqual(await ehloAuth(c), ['CRAM-MD5', 'LOGIN', 'PLAIN'], 'the last announced list is kept');
    const r = await c.cmd(`AUTH PLAIN ${b64('\0alice\0s3cret')}`, 15_000);
    assert.deepEqual([r.code, r.status, r.text[0]], [454, '4.7.0', 'Temporary authentication failure']);
    await gw.waitLog(/warning: unknown\[127\.0\.0\.9\]: SASL PLAIN authentication temporarily unavailable: dovecot auth /);
    assert.ok(!/SASL PLAIN authentication failed: (?!authentication failure)/.test(gw.log()), 'no fail2ban-style line for the outage');
    const again = await c.cmd(`AUTH LOGIN ${b64('alice')}`, 15_000);
    assert.equal(again.code, 454);
    assert.equal(gw.proc.exitCode, null, `gateway still running; stderr: ${gw.stderr()}`);
    assert.equal((await c.cmd('NOOP')).code, 250);

    await dovecot.start();
    const ok = await c.cmd(`AUTH PLAIN ${b64('\0alice\0s3cret')}`, 15_000);
    assert.equal(ok.code, 235, ok.raw);
  });
});
