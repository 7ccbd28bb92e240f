/**
 * What access-table actions and restriction results do to a real session: smtpd_delay_reject
 * = no (reject instead of the greeting, then 503), 421 ends the session, HOLD keeps the message
 * until `mxguard queue release`, DISCARD drops it after 250, REDIRECT/BCC change recipients,
 * PREPEND adds a header, warn_if_reject logs reject_warning, and the trace goes to the log for
 * clients in debug_peer_list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { runCli } from '../helpers/run-cli.js';

async function session(gw: Gateway, from: string, lines: string[], localAddress = '127.0.0.9'): Promise<string[]> {
  const c = await SmtpTestClient.connect(gw.port, { localAddress });
  const out: string[] = [];
  try {
    const greet = await c.read();
    out.push(`${greet.code} ${greet.text.join(' ')}`);
    for (const l of ['EHLO client.remote.test', `MAIL FROM:<${from}>`, ...lines]) {
      const r = await c.cmd(l);
      out.push(`${r.code} ${r.status ?? ''} ${r.text[r.text.length - 1]}`.replace(/  +/g, ' '));
      if (r.code === 421) break;
    }
  } finally { c.socket.destroy(); }
  return out;
}

async function mailTo(gw: Gateway, from: string, to: string[], body = 'Subject: t\r\n\r\nhello\r\n.'): Promise<string> {
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.9' });
  try {
    await c.read();
    await c.cmd('EHLO client.remote.test');
    assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
    for (const t of to) assert.equal((await c.cmd(`RCPT TO:<${t}>`)).code, 250, `RCPT ${t}`);
    assert.equal((await c.cmd('DATA')).code, 354);
    const r = await c.cmd(body);
    assert.equal(r.code, 250);
    await c.cmd('QUIT');
    return /queued as (\w+)/.exec(r.text.join(' '))![1]!;
  } finally { c.socket.destroy(); }
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => /(^|\/)new\/[^/]+$/.test(f)).map((f) => join(dir, f));
}

test('smtpd_delay_reject = no: the client reject replaces the greeting, then 503 for all but QUIT', async (t) => {
  const gw = await startGateway(t, { smtpd_delay_reject: 'no', smtpd_client_restrictions: 'reject' });
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.9' });
  t.after(() => c.socket.destroy());
  const greet = await c.read();
  assert.equal(greet.raw, '554 5.7.1 <unknown[127.0.0.9]>: Client host rejected: Access denied\r\n');
  const ehlo = await c.cmd('EHLO x.test');
  assert.equal(ehlo.raw, '503 5.7.0 Error: access denied for unknown[127.0.0.9]\r\n');
  assert.equal((await c.cmd('QUIT')).code, 221);
  await gw.waitLog(/NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.9\]: 554 5\.7\.1 <unknown\[127\.0\.0\.9\]>: Client host rejected: Access denied; proto=SMTP/);
});

test('421 from an access table ends the session; warn_if_reject only logs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-acc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'senders'), 'bye@spam.test 421 4.7.0 closing now\nwarned@spam.test REJECT would reject this\n');
  const gw = await startGateway(t, { smtpd_recipient_restrictions: `warn_if_reject, check_sender_access hash:${join(dir, 'senders')}, check_sender_access hash:${join(dir, 'senders')}` });
  const out = await session(gw, 'bye@spam.test', ['RCPT TO:<a@example.test>', 'NOOP']);
  assert.deepEqual(out.slice(2), ['250 2.1.0 Ok', '421 4.7.0 <bye@spam.test>: Sender address rejected: closing now']);
  const warned = await session(gw, 'warned@spam.test', ['RCPT TO:<a@example.test>']);
  assert.equal(warned[3], '554 5.7.1 <warned@spam.test>: Sender address rejected: would reject this', 'the second, unwarned lookup rejects');
  await gw.waitLog(/NOQUEUE: reject_warning: RCPT from unknown\[127\.0\.0\.9\]: 554 5\.7\.1 <warned@spam\.test>: Sender address rejected: would reject this; from=<warned@spam\.test> to=<a@example\.test> proto=ESMTP helo=<client\.remote\.test>/);
});

test('HOLD keeps the message until released; DISCARD drops it; REDIRECT, BCC and PREPEND change it', async (t) => {
  const gw = await startGateway(t, {});
  writeFileSync(join(gw.dir, 'senders'), [
    'hold@x.test HOLD', 'discard@x.test DISCARD', 'redirect@x.test REDIRECT boss@example.test',
    'bcc@x.test BCC archive@example.test', 'prepend@x.test PREPEND X-Flagged: yes',
  ].join('\n') + '\n');
  await gw.stop();
  writeFileSync(join(gw.dir, 'main.cf'), readFileSync(join(gw.dir, 'main.cf'), 'utf8') + `smtpd_sender_restrictions = check_sender_access hash:${join(gw.dir, 'senders')}\ndebug_peer_list = 127.0.0.9\n`);
  await gw.start();
  const mail = gw.mailDir;

  const held = await mailTo(gw, 'hold@x.test', ['alice@example.test']);
  await gw.waitLog(new RegExp(`${held}: from=<hold@x\\.test>, size=\\d+, nrcpt=1 \\(queue hold\\)`));
  assert.match(gw.log(), /NOQUEUE: hold: RCPT from unknown\[127\.0\.0\.9\]: <hold@x\.test>: Sender address triggers HOLD action/);
  assert.match(gw.log(), /trace: RCPT from unknown\[127\.0\.0\.9\]: smtpd_sender_restrictions: check_sender_access hash:\S+ -> dunno/);
  assert.equal(files(join(mail, 'example.test/alice')).length, 0);
  const q = await runCli(['queue', '--config', gw.dir]);
  assert.match(q.stdout, new RegExp(`^${held}!`, 'm'), 'mailq marks a held message with "!"');
  const rel = await runCli(['queue', 'release', held, '--config', gw.dir]);
  assert.equal(rel.code, 0, rel.stderr);
  await gw.waitLog(new RegExp(`${held}: to=<alice@example\\.test>.*status=sent`));

  const discarded = await mailTo(gw, 'discard@x.test', ['alice@example.test']);
  await gw.waitLog(new RegExp(`${discarded}: discard: END-OF-MESSAGE`));

  const redirected = await mailTo(gw, 'redirect@x.test', ['alice@example.test']);
  await gw.waitLog(new RegExp(`${redirected}: to=<boss@example\\.test>.*status=sent`));
  assert.doesNotMatch(gw.log(), new RegExp(`${redirected}: to=<alice@example\\.test>`));

  const bcc = await mailTo(gw, 'bcc@x.test', ['alice@example.test']);
  await gw.waitLog(new RegExp(`${bcc}: to=<archive@example\\.test>.*status=sent`));
  await gw.waitLog(new RegExp(`${bcc}: to=<alice@example\\.test>.*status=sent`));

  const before = new Set(files(join(mail, 'example.test/alice')));
  const pre = await mailTo(gw, 'prepend@x.test', ['alice@example.test']);
  await gw.waitLog(new RegExp(`${pre}: to=<alice@example\\.test>.*status=sent`));
  const fresh = files(join(mail, 'example.test/alice')).filter((f) => !before.has(f));
  assert.equal(fresh.length, 1);
  assert.match(readFileSync(fresh[0]!, "utf8"), /\nX-Flagged: yes\r?\nReceived: /);
});

test('reject_unauth_pipelining: commands sent ahead of the EHLO reply are improper pipelining', async (t) => {
  const gw = await startGateway(t, { smtpd_recipient_restrictions: 'reject_unauth_pipelining' });
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.9' });
  t.after(() => c.socket.destroy());
  await c.read();
  c.send('EHLO client.remote.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<b@example.test>\r\n');
  assert.equal((await c.read()).code, 250);
  assert.equal((await c.read()).code, 250);
  const rcpt = await c.read();
  assert.equal(rcpt.raw, '503 5.5.0 <b@example.test>: Recipient address rejected: Improper use of SMTP command pipelining\r\n');
  await gw.waitLog(/improper command pipelining after EHLO from unknown\[127\.0\.0\.9\]: MAIL FROM:<a@remote\.test>\\r\\nRCPT TO:<b@example\.test>\\r\\n/);
  // After EHLO, MAIL and RCPT may be pipelined.
  const ok = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.9' });
  t.after(() => ok.socket.destroy());
  await ok.read();
  await ok.cmd('EHLO client.remote.test');
  ok.send('MAIL FROM:<a@remote.test>\r\nRCPT TO:<b@example.test>\r\n');
  assert.equal((await ok.read()).code, 250);
  assert.equal((await ok.read()).code, 250);
});

test('ETRN runs smtpd_etrn_restrictions before the fast-flush answer', async (t) => {
  const gw = await startGateway(t, { smtpd_etrn_restrictions: 'check_etrn_access inline:{ blocked.test=REJECT no flush for you }' });
  const c = await SmtpTestClient.connect(gw.port, { localAddress: '127.0.0.9' });
  t.after(() => c.socket.destroy());
  await c.read();
  await c.cmd('EHLO client.remote.test');
  assert.equal((await c.cmd('ETRN blocked.test')).raw, '554 5.7.1 <blocked.test>: Etrn command rejected: no flush for you\r\n');
  assert.equal((await c.cmd('ETRN other.test')).code, 459);
  await gw.waitLog(/NOQUEUE: reject: ETRN from unknown\[127\.0\.0\.9\]: 554 5\.7\.1 <blocked\.test>: Etrn command rejected: no flush for you; proto=ESMTP helo=<client\.remote\.test>/);
});
