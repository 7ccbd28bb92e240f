/**
 * The gateway's log read by the tools administrators already use: pflogsumm and fail2ban's
 * postfix filter (normal and auth modes), after a known mix of traffic.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { makeTestCert } from '../helpers/tls.js';
import { runCli } from '../helpers/run-cli.js';
import { connectClient, gwMaildir, maildirTexts, messageText, needTools, queuedId, run, sendMessage, tempDir, token, waitFor } from './util.js';

const N = 3; // delivered messages
const M = 4; // relay-denied recipients from 127.0.0.20
const K = 3; // failed AUTH attempts over TLS

interface Traffic { gw: Gateway; ids: string[] }

/** N deliveries, M relay denials from outside mynetworks, K failed AUTHs; waits until all is logged. */
async function traffic(t: TestContext): Promise<Traffic> {
  const cert = makeTestCert(tempDir(t, 'mxg-cert-'));
  const gw = await startGateway(t, {
    smtpd_tls_cert_file: cert.certFile,
    smtpd_tls_key_file: cert.keyFile,
    smtpd_tls_security_level: 'may',
    smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
  });
  const pw = await runCli(['passwd', 'add', 'carol', '--config', gw.dir], { input: 'the-right-password\n' });
  assert.equal(pw.code, 0, pw.stderr);

  const ids: string[] = [];
  const { c } = await connectClient(t, gw.port);
  assert.equal((await c.cmd('EHLO sender.client.test')).code, 250);
  for (let i = 0; i < N; i++) {
    const r = await sendMessage(c, 'bob@remote.test', ['alice@example.test'], messageText({ from: 'bob@remote.test', to: 'alice@example.test', subject: `log mix ${i}` }));
    ids.push(queuedId(r));
  }
  await c.cmd('QUIT');

  // M relay attempts, in two sessions, from an address outside mynetworks (127.0.0.1/32).
  let denied = 0;
  for (const per of [2, M - 2]) {
    const { c: o } = await connectClient(t, gw.port, { localAddress: '127.0.0.20' });
    assert.equal((await o.cmd('EHLO outsider.client.test')).code, 250);
    assert.equal((await o.cmd('MAIL FROM:<spammer@remote.test>')).code, 250);
    for (let i = 0; i < per; i++) {
      const r = await o.cmd(`RCPT TO:<victim${denied}@elsewhere.test>`);
      assert.deepEqual([r.code, r.status], [554, '5.7.1'], r.raw);
      denied++;
    }
    await o.cmd('QUIT');
  }
  assert.equal(denied, M);

  // K failed AUTHs after STARTTLS, one session.
  const { c: a } = await connectClient(t, gw.port);
  await a.cmd('EHLO guesser.client.test');
  assert.equal((await a.cmd('STARTTLS')).code, 220);
  await a.startTls();
  const ehlo = await a.cmd('EHLO guesser.client.test');
  assert.ok(ehlo.text.includes('AUTH PLAIN LOGIN'), ehlo.raw);
  for (let i = 0; i < K; i++) {
    const cred = Buffer.from(`\0carol\0guess-${i}`).toString('base64');
    const r = await a.cmd(`AUTH PLAIN ${cred}`);
    assert.deepEqual([r.code, r.status], [535, '5.7.8'], r.raw);
  }
  await a.cmd('QUIT');

  for (const id of ids) await gw.waitLog(new RegExp(`${id}: removed`));
  await gw.waitLog(/disconnect from unknown\[127\.0\.0\.1\] ehlo=2 starttls=1 auth=0\/\d+/);
  assert.equal(maildirTexts(gwMaildir(gw, 'alice')).length, N);
  assert.ok(existsSync(gw.logFile));
  return { gw, ids };
}

/** The number before `label` in pflogsumm's Grand Totals (`      3   received`). */
function grandTotal(report: string, label: string): number {
  const section = /Grand Totals\n-+\n([\s\S]*?)\n\n(?:Per-|Host\/|Senders|Recipients|[A-Z])/.exec(report)?.[1] ?? report;
  const m = new RegExp(`^\\s*(\\d+)\\s+${label}\\b`, 'm').exec(section);
  if (!m) throw new Error(`no "${label}" in pflogsumm's Grand Totals:\n${report.slice(0, 2000)}`);
  return Number(m[1]);
}

/** fail2ban-regex's "Lines: x lines, y ignored, z matched, w missed" → matched. */
function matchedLines(out: string): number {
  const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(out);
  if (!m) throw new Error(`unexpected fail2ban-regex output:\n${out}`);
  return Number(m[3]);
}

test('pflogsumm reads the gateway log: received, delivered and rejected add up', async (t) => {
  if (!needTools(t, 'pflogsumm', 'openssl')) return;
  const { gw } = await traffic(t);
  const r = await run('pflogsumm', ['--problems-first', gw.logFile], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Grand Totals/);
  assert.equal(grandTotal(r.stdout, 'received'), N, r.stdout);
  assert.equal(grandTotal(r.stdout, 'delivered'), N, r.stdout);
  assert.equal(grandTotal(r.stdout, 'rejected'), M, r.stdout);
  assert.equal(grandTotal(r.stdout, 'bounced'), 0, r.stdout);
  assert.equal(grandTotal(r.stdout, 'deferred'), 0, r.stdout);
  // The reject detail names the reason as Postfix's does.
  assert.match(r.stdout, /Relay access denied/);
});

test('fail2ban\'s postfix filter matches the relay rejects; its auth mode matches the SASL failures', async (t) => {
  if (!needTools(t, 'fail2ban-regex', 'openssl')) return;
  const filter = '/etc/fail2ban/filter.d/postfix.conf';
  if (!existsSync(filter)) {
    const why = `${filter} not found (install fail2ban)`;
    if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
    t.skip(why);
    return;
  }
  const { gw } = await traffic(t);
  const normal = await run('fail2ban-regex', ['--print-all-matched', gw.logFile, filter], { timeoutMs: 120_000 });
  assert.equal(normal.code, 0, `${normal.stdout}\n${normal.stderr}`);
  assert.equal(matchedLines(normal.stdout), M, normal.stdout);
  // Every matched line is a relay reject of the outside client.
  const matched = normal.stdout.split('\n').filter((l) => /^\|\s+.*postfix\//.test(l));
  assert.equal(matched.length, M, normal.stdout);
  for (const l of matched) assert.match(l, /NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.20\]: 554 5\.7\.1 .*Relay access denied/);

  // fail2ban 1.0 selects a filter mode with name[mode=…]; older releases ship postfix-sasl.conf.
  const sasl = '/etc/fail2ban/filter.d/postfix-sasl.conf';
  const authFilter = existsSync(sasl) ? sasl : 'postfix[mode=auth]';
  const auth = await run('fail2ban-regex', ['--print-all-matched', gw.logFile, authFilter], { timeoutMs: 120_000 });
  assert.equal(auth.code, 0, `${auth.stdout}\n${auth.stderr}`);
  assert.equal(matchedLines(auth.stdout), K, auth.stdout);
  const authMatched = auth.stdout.split('\n').filter((l) => /^\|\s+.*postfix\//.test(l));
  assert.equal(authMatched.length, K, auth.stdout);
  for (const l of authMatched) assert.match(l, /warning: unknown\[127\.0\.0\.1\]: SASL PLAIN authentication failed: authentication failure/);
});

test('a log of clean deliveries matches nothing in fail2ban\'s aggressive postfix mode', async (t) => {
  if (!needTools(t, 'fail2ban-regex', 'openssl')) return;
  // A log with deliveries only: no filter mode may match anything.
  const gw = await startGateway(t);
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO clean.client.test');
  const tok = token('clean');
  const id = queuedId(await sendMessage(c, 'bob@remote.test', ['alice@example.test'], messageText({ from: 'bob@remote.test', to: 'alice@example.test', subject: tok })));
  await c.cmd('QUIT');
  await gw.waitLog(new RegExp(`${id}: removed`));
  await waitFor(() => maildirTexts(gwMaildir(gw, 'alice')).some((m) => m.includes(tok)), 'delivery');
  for (const filter of ['postfix[mode=aggressive]']) {
    const r = await run('fail2ban-regex', [gw.logFile, filter], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(matchedLines(r.stdout), 0, r.stdout);
  }
});
