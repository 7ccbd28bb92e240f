/**
 * Real SMTP clients against a real gateway on loopback: swaks, Python's smtplib, nodemailer,
 * and a real Postfix relaying into mxguard.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createTransport } from 'nodemailer';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startSink, type Sink } from '../helpers/smtp-sink.js';
import { makeTestCert } from '../helpers/tls.js';
import { runCli } from '../helpers/run-cli.js';
import { freePort } from '../helpers/ports.js';
import { startPostfix } from '../helpers/postfix.js';
import { gwMaildir, needTools, run, tempDir, token, waitFor, waitForMail } from './util.js';

const USER = 'carol';
const PASSWORD = 'Corr3ct horse battery';

/** main.cf settings for STARTTLS with a test certificate (kept in a temp dir of the test). */
function tlsSettings(t: TestContext): { settings: Record<string, string>; certFile: string } {
  const cert = makeTestCert(tempDir(t, 'mxg-cert-'));
  return {
    certFile: cert.certFile,
    settings: { smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile, smtpd_tls_security_level: 'may' },
  };
}

/** Adds the SASL user with `mxguard passwd add`, the password on standard input. */
async function addUser(gw: Gateway, user = USER, password = PASSWORD): Promise<void> {
  const r = await runCli(['passwd', 'add', user, '--config', gw.dir], { input: `${password}\n` });
  assert.equal(r.code, 0, `passwd add: ${r.stderr}`);
}

/** A gateway that relays for nobody on loopback but authenticated users, with a sink as relayhost. */
async function submissionGateway(t: TestContext, extra: Record<string, string> = {}, master?: (port: number) => string): Promise<{ gw: Gateway; sink: Sink; certFile: string }> {
  const sink = await startSink(t);
  const tls = tlsSettings(t);
  const gw = await startGateway(t, {
    ...tls.settings,
    // 127.0.0.1 is outside mynetworks: relaying needs AUTH.
    mynetworks: '127.0.0.99/32',
    relayhost: `[127.0.0.1]:${sink.port}`,
    default_transport: 'smtp',
    ...extra,
  }, master ? { master } : {});
  await addUser(gw);
  return { gw, sink, certFile: tls.certFile };
}

test('swaks: a message to a local recipient lands in Maildir', async (t) => {
  if (!needTools(t, 'swaks')) return;
  const gw = await startGateway(t);
  const tok = token('swaks');
  const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(gw.port), '--helo', 'swaks.client.test',
    '--from', 'bob@remote.test', '--to', 'alice@example.test', '--header', `X-Mxg-Token: ${tok}`,
    '--h-Subject', 'swaks to maildir', '--body', 'Body from swaks.', '--timeout', '15'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `swaks failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /<- {2}250 2\.0\.0 Ok: queued as [0-9A-F]+/);
  const msg = await waitForMail(gwMaildir(gw, 'alice'), tok);
  assert.match(msg, new RegExp(`^X-Mxg-Token: ${tok}\\r?$`, 'm'));
  assert.match(msg, /^Subject: swaks to maildir\r?$/m);
  assert.match(msg, /^Return-Path: <bob@remote\.test>/);
  assert.match(msg, /Received: from swaks\.client\.test \(unknown \[127\.0\.0\.1\]\)/);
  assert.match(msg, /Body from swaks\./);
});

const SMTPLIB_SCRIPT = String.raw`
import json, smtplib, ssl, sys
port, user, good, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = {}
s = smtplib.SMTP('127.0.0.1', port, local_hostname='py.client.test', timeout=15)
s.ehlo()
out['auth_before_tls'] = s.has_extn('auth')
out['starttls_offered'] = s.has_extn('starttls')
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out['starttls'] = s.starttls(context=ctx)[0]
s.ehlo()
out['auth_after_tls'] = s.esmtp_features.get('auth', None)
s.mail('carol@example.test')
code, msg = s.rcpt('dave@remote.test')
out['unauth_rcpt'] = [code, msg.decode()]
s.rset()
try:
    s.login(user, 'not-' + good)
    out['bad_login'] = 'accepted'
except smtplib.SMTPAuthenticationError as e:
    out['bad_login'] = [e.smtp_code, e.smtp_error.decode()]
code, msg = s.login(user, good)
out['login'] = [code, msg.decode()]
s.mail('carol@example.test')
out['rcpt'] = list(s.rcpt('dave@remote.test'))[0]
body = ('From: carol@example.test\r\nTo: dave@remote.test\r\nSubject: via smtplib\r\nX-Mxg-Token: %s\r\n\r\nHello from Python.\r\n' % tok)
code, msg = s.data(body.encode())
out['data'] = [code, msg.decode()]
s.quit()
print(json.dumps(out))
`;

test('Python smtplib: STARTTLS, AUTH PLAIN, then relay to a remote recipient; a wrong password gets 535 5.7.8', async (t) => {
  if (!needTools(t, 'python3', 'openssl')) return;
  const { gw, sink } = await submissionGateway(t);
  const tok = token('smtplib');
  const r = await run('python3', ['-c', SMTPLIB_SCRIPT, String(gw.port), USER, PASSWORD, tok], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `python failed:\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(out.auth_before_tls, false, 'AUTH must not be offered before STARTTLS');
  assert.equal(out.starttls_offered, true);
  assert.equal(out.starttls, 220);
  assert.match(String(out.auth_after_tls), /\bPLAIN\b/);
  assert.match(String(out.auth_after_tls), /\bLOGIN\b/);
  const [ucode, utext] = out.unauth_rcpt as [number, string];
  assert.ok(ucode === 454 || ucode === 554, `unauthenticated relay: ${ucode} ${utext}`);
  assert.match(utext, /<dave@remote\.test>: Relay access denied/);
  const [bcode, btext] = out.bad_login as [number, string];
  assert.equal(bcode, 535);
  assert.match(btext, /^5\.7\.8 /);
  assert.deepEqual(out.login, [235, '2.7.0 Authentication successful']);
  assert.equal(out.rcpt, 250);
  const [dcode, dtext] = out.data as [number, string];
  assert.equal(dcode, 250, dtext);
  const id = /queued as ([0-9A-F]+)/.exec(dtext)?.[1];
  assert.ok(id, dtext);

  const got = await waitFor(() => sink.messages.find((m) => m.data.toString().includes(tok)), () => `the relayed message at the sink; gateway log:\n${gw.log().slice(-3000)}`);
  assert.deepEqual(got.rcptTo, ['dave@remote.test']);
  assert.equal(got.mailFrom, 'carol@example.test');
  assert.match(got.data.toString(), /Hello from Python\./);
  const log = gw.log();
  assert.match(log, new RegExp(`postfix/smtpd\\[\\d+\\]: ${id}: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN, sasl_username=${USER}`));
  assert.match(log, /warning: unknown\[127\.0\.0\.1\]: SASL (PLAIN|LOGIN) authentication failed: authentication failure/);
  await gw.waitLog(new RegExp(`${id}: to=<dave@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port}, .*status=sent`));
});

test('swaks: AUTH LOGIN after STARTTLS relays; a wrong password is refused with 535 5.7.8', async (t) => {
  if (!needTools(t, 'swaks', 'openssl')) return;
  const { gw, sink } = await submissionGateway(t);
  const tok = token('swaks-login');
  const base = ['--server', '127.0.0.1', '--port', String(gw.port), '--helo', 'swaks.client.test', '--tls',
    '--auth', 'LOGIN', '--auth-user', USER, '--from', 'carol@example.test', '--to', 'erin@remote.test', '--timeout', '15'];
  const bad = await run('swaks', [...base, '--auth-password', 'wrong-password'], { timeoutMs: 30_000 });
  assert.notEqual(bad.code, 0, 'a wrong password must not be accepted');
  assert.match(bad.stdout, /<~\* +535 5\.7\.8 Error: authentication failed/);
  assert.equal(sink.messages.length, 0);

  const ok = await run('swaks', [...base, '--auth-password', PASSWORD, '--header', `X-Mxg-Token: ${tok}`], { timeoutMs: 30_000 });
  assert.equal(ok.code, 0, `swaks failed:\n${ok.stdout}\n${ok.stderr}`);
  assert.match(ok.stdout, /<~ +235 2\.7\.0 Authentication successful/);
  const id = /<~ +250 2\.0\.0 Ok: queued as ([0-9A-F]+)/.exec(ok.stdout)?.[1];
  assert.ok(id, ok.stdout);
  const got = await waitFor(() => sink.messages.find((m) => m.data.toString().includes(tok)), () => `the relayed message at the sink; gateway log:\n${gw.log().slice(-3000)}`);
  assert.deepEqual(got.rcptTo, ['erin@remote.test']);
  assert.match(gw.log(), new RegExp(`${id}: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=LOGIN, sasl_username=${USER}`));
  assert.match(gw.log(), /warning: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication failed: authentication failure/);
});

/** nodemailer options shared by both services: verify the test certificate, which names 127.0.0.1. */
function nodemailerOptions(certFile: string) {
  return {
    host: '127.0.0.1', name: 'nm.client.test', auth: { user: USER, pass: PASSWORD },
    tls: { ca: readFileSync(certFile), rejectUnauthorized: true },
    connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 15_000,
  };
}

test('nodemailer: STARTTLS (required) + AUTH, certificate verified, relayed to the next hop', async (t) => {
  if (!needTools(t, 'openssl')) return;
  const { gw, sink, certFile } = await submissionGateway(t);
  const transport = createTransport({ ...nodemailerOptions(certFile), port: gw.port, secure: false, requireTLS: true });
  t.after(() => transport.close());
  const tok = token('nm-starttls');
  const info = await transport.sendMail({ from: 'carol@example.test', to: 'frank@remote.test', subject: 'nodemailer starttls', text: 'one', headers: { 'X-Mxg-Token': tok } });
  assert.deepEqual(info.accepted, ['frank@remote.test']);
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const got = await waitFor(() => sink.messages.find((m) => m.data.toString().includes(tok)), () => `the message at the sink; gateway log:\n${gw.log().slice(-3000)}`);
  assert.deepEqual(got.rcptTo, ['frank@remote.test']);
  // RFC 3848: the Received: protocol says TLS and AUTH were used.
  assert.match(got.data.toString(), new RegExp(`with ESMTPSA id ${id}`));
  assert.match(gw.log(), new RegExp(`postfix/smtpd\\[\\d+\\]: ${id}: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN, sasl_username=${USER}`));
});

test('nodemailer: implicit TLS on a second master.cf service (-o smtpd_tls_wrappermode=yes)', async (t) => {
  if (!needTools(t, 'openssl')) return;
  const smtpsPort = await freePort();
  const { gw, sink, certFile } = await submissionGateway(t, {}, (port) => [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    `127.0.0.1:${smtpsPort} inet n - n - - smtpd`,
    '  -o smtpd_tls_wrappermode=yes',
    '  -o syslog_name=postfix/smtps',
    '',
  ].join('\n'));
  await gw.waitLog(new RegExp(`daemon started .* listening on .*127\\.0\\.0\\.1:${smtpsPort}\\b`));
  const transport = createTransport({ ...nodemailerOptions(certFile), port: smtpsPort, secure: true });
  t.after(() => transport.close());
  const tok = token('nm-smtps');
  const info = await transport.sendMail({ from: 'carol@example.test', to: 'grace@remote.test', subject: 'nodemailer smtps', text: 'two', headers: { 'X-Mxg-Token': tok } });
  assert.deepEqual(info.accepted, ['grace@remote.test']);
  const id = /queued as ([0-9A-F]+)/.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const got = await waitFor(() => sink.messages.find((m) => m.data.toString().includes(tok)), () => `the message at the sink; gateway log:\n${gw.log().slice(-3000)}`);
  assert.deepEqual(got.rcptTo, ['grace@remote.test']);
  assert.match(got.data.toString(), new RegExp(`with ESMTPSA id ${id}`));
  // The second service logs under its own syslog_name (master.cf -o).
  assert.match(gw.log(), new RegExp(`postfix/smtps/smtpd\\[\\d+\\]: ${id}: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN, sasl_username=${USER}`));
});

test('Postfix relays a swaks message into mxguard: delivered to Maildir; mxguard logs Postfix\'s EHLO name', async (t) => {
  if (!needTools(t, 'swaks', 'postfix')) return;
  const gw = await startGateway(t);
  // Postfix connects from 127.0.0.30, outside mxguard's mynetworks (127.0.0.1/32).
  const pf = await startPostfix(t, { relayhost: `[127.0.0.1]:${gw.port}`, main: { smtp_bind_address: '127.0.0.30' } });
  if (!pf) return;
  const tok = token('via-postfix');
  const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(pf.port), '--helo', 'swaks.client.test',
    '--from', 'bob@remote.test', '--to', 'alice@example.test', '--header', `X-Mxg-Token: ${tok}`, '--timeout', '15'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `swaks → Postfix failed:\n${r.stdout}\n${r.stderr}`);
  const msg = await waitForMail(gwMaildir(gw, 'alice'), tok, 30_000);
  assert.match(msg, /Received: from relay\.postfix\.test \(unknown \[127\.0\.0\.30\]\)\r?\n\tby mx\.example\.test \(mxguard\)/);
  assert.match(msg, /Received: from swaks\.client\.test .*\r?\n\s+by relay\.postfix\.test \(Postfix\)/);
  // Postfix's log names mxguard's queue id; mxguard's log has the same id from Postfix's address.
  const sent = await pf.waitLog(/status=sent \(250 2\.0\.0 Ok: queued as ([0-9A-F]+)\)/);
  assert.match(gw.log(), new RegExp(`${sent[1]}: client=unknown\\[127\\.0\\.0\\.30\\]`));

  // A relay attempt through Postfix is refused by mxguard; the reject line names the EHLO.
  const r2 = await run('swaks', ['--server', '127.0.0.1', '--port', String(pf.port), '--from', 'bob@remote.test',
    '--to', 'victim@elsewhere.test', '--timeout', '15'], { timeoutMs: 30_000 });
  assert.equal(r2.code, 0, `swaks → Postfix failed:\n${r2.stdout}\n${r2.stderr}`);
  await gw.waitLog(/NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.30\]: (454 4|554 5)\.7\.1 <victim@elsewhere\.test>: Relay access denied; from=<bob@remote\.test> to=<victim@elsewhere\.test> proto=ESMTP helo=<relay\.postfix\.test>/, 30_000);
  await pf.waitLog(/to=<victim@elsewhere\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=(deferred|bounced) \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: (454 4|554 5)\.7\.1 <victim@elsewhere\.test>: Relay access denied/);
});
