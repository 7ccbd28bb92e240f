/**
 * Wire-level tests of the SMTP session against a real gateway process on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { sharedGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';

const shared = sharedGateway({
  message_size_limit: '20000',
  smtpd_recipient_limit: '3',
  smtpd_hard_error_limit: '6',
  smtpd_junk_command_limit: '5',
  smtpd_client_connection_count_limit: '3',
  smtpd_client_event_limit_exceptions: '',
});
const gwRef = () => shared.gw;

async function client(t: { after: (f: () => void) => void }, localAddress = '127.0.0.1'): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.connect(gwRef().port, { localAddress });
  t.after(() => c.destroy());
  const g = await c.read();
  assert.equal(g.code, 220);
  assert.equal(g.text[0], 'mx.example.test ESMTP mxguard');
  return c;
}

function maildirFiles(user: string, domain = 'example.test'): string[] {
  const d = join(gwRef().mailDir, domain, user, 'new');
  return existsSync(d) ? readdirSync(d).map((f) => readFileSync(join(d, f), 'utf8')) : [];
}

async function waitFor<T>(f: () => T | undefined, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('EHLO advertises the ESMTP extensions; no STARTTLS without a certificate, no AUTH without TLS', async (t) => {
  const c = await client(t);
  const r = await c.cmd('EHLO client.example');
  assert.equal(r.code, 250);
  assert.deepEqual(r.text, ['mx.example.test', 'PIPELINING', 'SIZE 20000', 'VRFY', 'ETRN', 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING']);
  assert.equal((await c.cmd('HELO')).code, 501);
  assert.deepEqual(await c.cmd('STARTTLS').then((x) => [x.code, x.status]), [502, '5.5.2']);
  assert.deepEqual(await c.cmd('AUTH PLAIN').then((x) => [x.code, x.status]), [503, '5.5.1']);
  assert.equal((await c.cmd('QUIT')).code, 221);
});

test('a message to a local recipient is queued, then delivered into Maildir, with Received: and Postfix log lines', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO client.example');
  assert.deepEqual(await c.cmd('MAIL FROM:<bob@remote.test>').then((x) => [x.code, x.status, x.text[0]]), [250, '2.1.0', 'Ok']);
  assert.deepEqual(await c.cmd('RCPT TO:<alice@example.test>').then((x) => [x.code, x.status]), [250, '2.1.5']);
  assert.equal((await c.cmd('DATA')).code, 354);
  const r = await c.cmd('Subject: hello\r\nMessage-ID: <m1@remote.test>\r\n\r\n..dot-stuffed line\r\nbody\r\n.');
  assert.equal(r.code, 250);
  const id = /queued as ([0-9A-F]+)/.exec(r.text[0]!)?.[1];
  assert.ok(id, r.text[0]);
  await c.cmd('QUIT');
  const files = await waitFor(() => { const f = maildirFiles('alice'); return f.some((x) => x.includes('m1@remote.test')) ? f : undefined; });
  const msg = files.find((x) => x.includes('m1@remote.test'))!;
  assert.match(msg, /^Return-Path: <bob@remote\.test>\r?\n/);
  assert.match(msg, /Delivered-To: alice@example\.test/);
  assert.match(msg, new RegExp(`Received: from client\\.example \\(unknown \\[127\\.0\\.0\\.1\\]\\)\\r?\\n\\tby mx\\.example\\.test \\(mxguard\\) with ESMTP id ${id}\\r?\\n\\tfor <alice@example\\.test>; `));
  assert.match(msg, /\r?\n\.dot-stuffed line\r?\nbody\r?\n$/);
  const log = await gwRef().waitLog(new RegExp(`${id}: removed`));
  assert.ok(log);
  const text = gwRef().log();
  assert.match(text, new RegExp(`postfix/smtpd\\[\\d+\\]: ${id}: client=unknown\\[127\\.0\\.0\\.1\\]`));
  assert.match(text, new RegExp(`postfix/cleanup\\[\\d+\\]: ${id}: message-id=<m1@remote\\.test>`));
  assert.match(text, new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: from=<bob@remote\\.test>, size=\\d+, nrcpt=1 \\(queue active\\)`));
  assert.match(text, new RegExp(`postfix/virtual\\[\\d+\\]: ${id}: to=<alice@example\\.test>, relay=virtual, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/[\\d.]+/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(delivered to maildir\\)`));
  assert.match(text, /disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5/);
});

test('SMTP smuggling: bare LF / CR never end DATA and never start a second transaction', async (t) => {
  const variants = ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r\n.\r'];
  for (const v of variants) {
    const c = await client(t);
    await c.cmd('EHLO smuggler.example');
    await c.cmd('MAIL FROM:<a@remote.test>');
    await c.cmd('RCPT TO:<victim@example.test>');
    assert.equal((await c.cmd('DATA')).code, 354);
    c.send(`Subject: first\r\n\r\nbody${v}MAIL FROM:<admin@example.test>\r\nRCPT TO:<smuggled@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n`);
    const r = await c.read();
    assert.deepEqual([r.code, r.status, r.text[0]], [550, '5.5.2', 'mx.example.test Error: bare <LF> received'], JSON.stringify(v));
    const q = await c.cmd('QUIT');
    assert.equal(q.code, 221, `exactly one reply for the whole DATA (${JSON.stringify(v)})`);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(maildirFiles('smuggled').length, 0);
  assert.equal(maildirFiles('victim').length, 0);
});

test('a bare LF in a command is refused with 550 5.5.2 and the connection closed', async (t) => {
  const c = await client(t);
  c.send('EHLO x.example\nMAIL FROM:<a@b.test>\r\n');
  const r = await c.read();
  assert.deepEqual([r.code, r.status], [550, '5.5.2']);
  assert.ok(await c.closedByServer());
  await gwRef().waitLog(/NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.1\]: bare <LF> received/);
});

test('over-long command lines, NUL bytes and 8-bit commands without SMTPUTF8 get 5xx', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO x.example');
  assert.deepEqual(await c.cmd('NOOP ' + 'x'.repeat(3000)).then((x) => [x.code, x.status]), [500, '5.5.2']);
  assert.deepEqual(await c.cmd('NOOP a\0b').then((x) => [x.code, x.status]), [500, '5.5.2']);
  c.send(Buffer.from('HELO h\u00e9llo.example\r\n', 'utf8'));
  assert.deepEqual(await c.read().then((x) => [x.code, x.status]), [500, '5.5.2']);
  c.send(Buffer.from('MAIL FROM:<j\u00f6rg@remote.test>\r\n', 'utf8'));
  assert.equal((await c.read()).code >= 500, true, '8-bit address without SMTPUTF8');
  c.send(Buffer.from('MAIL FROM:<j\u00f6rg@remote.test> SMTPUTF8\r\n', 'utf8'));
  assert.equal((await c.read()).code, 250);
  c.send(Buffer.from('RCPT TO:<m\u00fcller@example.test>\r\n', 'utf8'));
  assert.equal((await c.read()).code, 250);
  assert.equal((await c.cmd('NOOP')).code, 250, 'still in sync');
  assert.equal((await c.cmd('DATA')).code, 354);
  assert.equal((await c.cmd('Subject: utf8\r\n\r\nx\r\n.')).code, 250);
  const box = await waitFor(() => maildirFiles('m\u00fcller').find((m) => m.includes('Subject: utf8')));
  assert.match(box, /with UTF8SMTP id /, 'RFC 6531 protocol name in Received:');
});

test('SIZE: refused at MAIL when declared too big, and during DATA when the text is too big', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO x.example');
  assert.deepEqual(await c.cmd('MAIL FROM:<a@remote.test> SIZE=20001').then((x) => [x.code, x.status]), [552, '5.3.4']);
  assert.equal((await c.cmd('MAIL FROM:<a@remote.test> SIZE=100')).code, 250);
  await c.cmd('RCPT TO:<big@example.test>');
  await c.cmd('DATA');
  const r = await c.cmd('Subject: big\r\n\r\n' + ('y'.repeat(998) + '\r\n').repeat(25) + '.');
  assert.deepEqual([r.code, r.status], [552, '5.3.4']);
  assert.equal((await c.cmd('NOOP')).code, 250);
});

test('PIPELINING: a whole transaction in one write gets all replies in order', async (t) => {
  const c = await client(t);
  c.send('EHLO p.example\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<pipe@example.test>\r\nRCPT TO:<outside@remote.test>\r\nDATA\r\n');
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await c.read()).code);
  assert.deepEqual(codes, [250, 250, 250, 250, 354], 'relay from 127.0.0.1 (mynetworks) is allowed');
  c.send('Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n');
  assert.equal((await c.read()).code, 250);
  assert.equal((await c.read()).code, 221);
});

test('CHUNKING: BDAT chunks and LAST deliver the message; bare LF in BDAT is refused', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO b.example');
  await c.cmd('MAIL FROM:<b@remote.test>');
  await c.cmd('RCPT TO:<chunky@example.test>');
  const part1 = 'Subject: chunks\r\nMessage-ID: <chunk@remote.test>\r\n\r\nfirst ';
  c.send(`BDAT ${Buffer.byteLength(part1)}\r\n${part1}`);
  assert.equal((await c.read()).code, 250);
  const part2 = 'second\r\n.not stuffed\r\n';
  c.send(`BDAT ${Buffer.byteLength(part2)} LAST\r\n${part2}`);
  const r = await c.read();
  assert.equal(r.code, 250);
  assert.match(r.text[0]!, /queued as/);
  const files = await waitFor(() => { const f = maildirFiles('chunky'); return f.length ? f : undefined; });
  assert.match(files[0]!, /first second\r?\n\.not stuffed\r?\n$/);
  await c.cmd('MAIL FROM:<b@remote.test>');
  await c.cmd('RCPT TO:<chunky@example.test>');
  const bad = 'Subject: x\r\n\r\nbare\nlf\r\n';
  c.send(`BDAT ${Buffer.byteLength(bad)} LAST\r\n${bad}`);
  assert.deepEqual(await c.read().then((x) => [x.code, x.status]), [550, '5.5.2']);
  assert.equal((await c.cmd('NOOP')).code, 250);
});

test('command order: 503 for RCPT before MAIL, DATA before RCPT, nested MAIL; 554 for no valid recipients', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO o.example');
  assert.deepEqual(await c.cmd('RCPT TO:<a@example.test>').then((x) => [x.code, x.text[0]]), [503, 'Error: need MAIL command']);
  assert.deepEqual(await c.cmd('DATA').then((x) => [x.code, x.text[0]]), [503, 'Error: need RCPT command']);
  await c.cmd('MAIL FROM:<a@remote.test>');
  assert.deepEqual(await c.cmd('MAIL FROM:<a@remote.test>').then((x) => [x.code, x.text[0]]), [503, 'Error: nested MAIL command']);
  assert.deepEqual(await c.cmd('DATA').then((x) => [x.code, x.status, x.text[0]]), [554, '5.5.1', 'Error: no valid recipients']);
  assert.equal((await c.cmd('RSET')).code, 250);
  assert.deepEqual(await c.cmd('FOO bar').then((x) => [x.code, x.status, x.text[0]]), [502, '5.5.2', 'Error: command not recognized']);
});

test('recipient limit: 452 4.5.3 Error: too many recipients', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO r.example');
  await c.cmd('MAIL FROM:<a@remote.test>');
  for (let i = 0; i < 3; i++) assert.equal((await c.cmd(`RCPT TO:<u${i}@example.test>`)).code, 250);
  assert.deepEqual(await c.cmd('RCPT TO:<u4@example.test>').then((x) => [x.code, x.status, x.text[0]]), [452, '4.5.3', 'Error: too many recipients']);
});

test('hard error limit: 421 4.7.0 Error: too many errors', async (t) => {
  const c = await client(t);
  for (let i = 0; i < 6; i++) assert.equal((await c.cmd('BOGUS')).code, 502);
  const r = await c.cmd('NOOP');
  assert.deepEqual([r.code, r.status, r.text[0]], [421, '4.7.0', 'mx.example.test Error: too many errors']);
  assert.ok(await c.closedByServer());
  await gwRef().waitLog(/too many errors after UNKNOWN from unknown\[127\.0\.0\.1\]/);
});

test('junk command limit: NOOPs past the limit count as errors', async (t) => {
  const c = await client(t);
  let r;
  for (let i = 0; i < 20; i++) { r = await c.cmd('NOOP'); if (r.code === 421) break; }
  assert.equal(r!.code, 421, 'the session ends after junk limit + hard error limit');
});

test('non-SMTP commands: 221 2.7.0 and disconnect', async (t) => {
  const c = await client(t);
  const r = await c.cmd('GET / HTTP/1.1');
  assert.deepEqual([r.code, r.status, r.text[0]], [221, '2.7.0', 'Error: I can break rules, too. Goodbye.']);
  assert.ok(await c.closedByServer());
  await gwRef().waitLog(/warning: non-SMTP command from unknown\[127\.0\.0\.1\]: GET \/ HTTP\/1\.1/);
});

test('connection count limit per client: 421 4.7.0 too many connections', async (t) => {
  const cs = [];
  for (let i = 0; i < 3; i++) cs.push(await client(t, '127.0.0.9'));
  const extra = await SmtpTestClient.connect(gwRef().port, { localAddress: '127.0.0.9' });
  t.after(() => extra.destroy());
  const r = await extra.read();
  assert.deepEqual([r.code, r.status, r.text[0]], [421, '4.7.0', 'mx.example.test Error: too many connections from 127.0.0.9']);
  const other = await client(t, '127.0.0.10');
  assert.equal((await other.cmd('NOOP')).code, 250, 'another client is not affected');
  await gwRef().waitLog(/warning: Connection concurrency limit exceeded: 4 from unknown\[127\.0\.0\.9\] for service 127\.0\.0\.1:\d+/);
});

test('relay: an outside client cannot send to a remote domain; a local domain is fine', async (t) => {
  const c = await client(t, '127.0.0.20');
  await c.cmd('EHLO outsider.example');
  await c.cmd('MAIL FROM:<a@remote.test>');
  const r = await c.cmd('RCPT TO:<victim@remote.test>');
  assert.ok(r.code === 554 || r.code === 454, `${r.code}`);
  assert.equal(r.status, r.code === 554 ? '5.7.1' : '4.7.1');
  assert.equal(r.text[0], '<victim@remote.test>: Relay access denied');
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  await gwRef().waitLog(/NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.20\]: (554 5|454 4)\.7\.1 <victim@remote\.test>: Relay access denied; from=<a@remote\.test> to=<victim@remote\.test> proto=ESMTP helo=<outsider\.example>/);
});

test('VRFY answers 252 unless disabled; ETRN without fast flush is refused', async (t) => {
  const c = await client(t);
  await c.cmd('EHLO v.example');
  assert.equal((await c.cmd('VRFY alice')).code, 252);
  assert.equal((await c.cmd('ETRN example.test')).code, 459);
});
