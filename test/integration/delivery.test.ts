/**
 * Delivery end to end through a real gateway: LMTP into a real Dovecot, SMTP to a next hop,
 * bounces (RFC 3464), no bounce for the null sender or for a bounce, the discard transport,
 * and expiry after maximal_queue_lifetime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startGateway } from '../helpers/gateway.js';
import { startSink, type SinkMessage } from '../helpers/smtp-sink.js';
import { startDovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { connectClient, gwMaildir, maildirTexts, messageText, queuedId, sendMessage, sleep, token, waitFor, waitForMail } from './util.js';

/** Checks the shape of an RFC 3464 non-delivery report for one failed recipient. */
function assertDsn(text: string, failed: string, status: RegExp, diagnostic: RegExp): void {
  assert.match(text, /^Content-Type: multipart\/report; report-type=delivery-status;/mi, 'multipart/report');
  assert.match(text, /^Content-Type: message\/delivery-status/mi);
  assert.match(text, /^Reporting-MTA: dns; ?mx\.example\.test\r?$/m);
  assert.match(text, new RegExp(`^Final-Recipient: rfc822; ?${failed.replace(/[.+]/g, '\\$&')}\\r?$`, 'mi'));
  assert.match(text, /^Action: failed\r?$/m);
  const st = /^Status: (\S+)\r?$/m.exec(text)?.[1];
  assert.ok(st && status.test(st), `Status: ${st}`);
  const diag = /^Diagnostic-Code: ([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/m.exec(text)?.[1]?.replace(/\r?\n[ \t]+/g, ' ');
  assert.ok(diag && diagnostic.test(diag), `Diagnostic-Code: ${diag}`);
}

test('LMTP into Dovecot: a known user gets the message; an unknown one is bounced to the sender as a DSN', async (t) => {
  const dovecot = await startDovecot(t);
  if (!dovecot) return;
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    mydestination: '$myhostname, localhost',
    virtual_mailbox_domains: 'example.test',
    virtual_transport: `lmtp:inet:127.0.0.1:${dovecot.port}`,
    // Bounces to the sender's domain go to the sink, where the test reads them.
    transport_maps: `inline:{ bounces.test=smtp:[127.0.0.1]:${sink.port} }`,
  });
  const tok = token('lmtp');
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  const id = queuedId(await sendMessage(c, 'sender@bounces.test', ['alice@example.test', 'nobody@example.test'],
    messageText({ from: 'sender@bounces.test', to: 'alice@example.test', subject: 'to dovecot', headers: { 'X-Mxg-Token': tok } })));
  await c.cmd('QUIT');

  const delivered = await waitFor(() => dovecot.messages('alice').map((f) => readFileSync(f, 'utf8')).find((m) => m.includes(tok)),
    () => `the message in Dovecot's Maildir; gateway log:\n${gw.log()}\ndovecot log:\n${dovecot.log()}`);
  assert.match(delivered, /^Return-Path: <sender@bounces\.test>/m);
  assert.match(delivered, new RegExp(`with ESMTP id ${id}`));
  assert.equal(dovecot.messages('nobody').length, 0);
  await gw.waitLog(new RegExp(`postfix/lmtp\\[\\d+\\]: ${id}: to=<alice@example\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${dovecot.port}, .*dsn=2\\.0\\.0, status=sent`));
  await gw.waitLog(new RegExp(`${id}: to=<nobody@example\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${dovecot.port}, .*dsn=5\\.1\\.1, status=bounced`));
  const bid = (await gw.waitLog(new RegExp(`postfix/bounce\\[\\d+\\]: ${id}: sender non-delivery notification: ([0-9A-F]+)`)))[1]!;

  const dsn = await waitFor(() => sink.messages.find((m) => m.rcptTo.includes('sender@bounces.test')),
    () => `the bounce at the sink; gateway log:\n${gw.log()}`);
  assert.equal(dsn.mailFrom, '', 'a bounce is sent with the null sender');
  assert.deepEqual(dsn.rcptTo, ['sender@bounces.test']);
  const text = dsn.data.toString('latin1');
  assertDsn(text, 'nobody@example.test', /^5\.1\.1$/, /^smtp; ?550 5\.1\.1 /);
  assert.doesNotMatch(text, /^Final-Recipient: rfc822; ?alice@example\.test/mi, 'the delivered recipient is not reported');
  assert.ok(text.includes(tok), 'the original message is returned');
  await gw.waitLog(new RegExp(`${bid}: to=<sender@bounces\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port}, .*status=sent`));
});

test('SMTP next hop: one recipient accepted, one refused with 550 → sent, bounced, and a DSN to the sender', async (t) => {
  const sink = await startSink(t, { rcptReplies: { 'bad@remote.test': '550 5.1.1 <bad@remote.test>: Recipient address rejected: User unknown' } });
  const gw = await startGateway(t, { relayhost: `[127.0.0.1]:${sink.port}`, default_transport: 'smtp' });
  const tok = token('mixed');
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  const id = queuedId(await sendMessage(c, 'sender@example.test', ['good@remote.test', 'bad@remote.test'],
    messageText({ from: 'sender@example.test', to: 'good@remote.test', subject: 'mixed', headers: { 'X-Mxg-Token': tok } })));
  await c.cmd('QUIT');

  const relay = `relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port}`;
  await gw.waitLog(new RegExp(`postfix/smtp\\[\\d+\\]: ${id}: to=<good@remote\\.test>, ${relay}, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as SINK\\d+\\)`));
  await gw.waitLog(new RegExp(`postfix/smtp\\[\\d+\\]: ${id}: to=<bad@remote\\.test>, ${relay}, delay=[\\d.]+, delays=[\\d./]+, dsn=5\\.1\\.1, status=bounced \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 550 5\\.1\\.1 <bad@remote\\.test>: Recipient address rejected: User unknown \\(in reply to RCPT TO command\\)\\)`));
  await gw.waitLog(new RegExp(`postfix/bounce\\[\\d+\\]: ${id}: sender non-delivery notification: [0-9A-F]+`));
  await gw.waitLog(new RegExp(`${id}: removed`));

  const got = sink.messages.filter((m) => m.data.toString().includes(tok));
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.rcptTo, ['good@remote.test']);
  assert.equal(got[0]!.mailFrom, 'sender@example.test');

  const bounce = await waitForMail(gwMaildir(gw, 'sender'), 'multipart/report');
  assert.match(bounce, /^Return-Path: <>/);
  assert.match(bounce, /^Subject: Undelivered Mail Returned to Sender\r?$/m);
  assert.match(bounce, /^From: MAILER-DAEMON@mx\.example\.test|^From: .*<MAILER-DAEMON@mx\.example\.test>/m);
  assertDsn(bounce, 'bad@remote.test', /^5\.1\.1$/, /^smtp; ?550 5\.1\.1 <bad@remote\.test>: Recipient address rejected: User unknown/);
  assert.doesNotMatch(bounce, /^Final-Recipient: rfc822; ?good@remote\.test/mi);
  assert.ok(bounce.includes(tok), 'the original is returned');
});

test('no bounce for mail from the null sender, and no bounce of a bounce', async (t) => {
  const refuse = '550 5.1.1 Recipient address rejected: User unknown';
  const sink = await startSink(t, { rcptReplies: { 'bad@remote.test': `550 5.1.1 <bad@remote.test>: ${refuse}`, 'gone@remote.test': `550 5.1.1 <gone@remote.test>: ${refuse}` } });
  const gw = await startGateway(t, { relayhost: `[127.0.0.1]:${sink.port}`, default_transport: 'smtp' });
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');

  // 1. From <>: bounced, but not returned to anyone.
  const id = queuedId(await sendMessage(c, '', ['bad@remote.test'], messageText({ from: 'mailer-daemon@remote.test', to: 'bad@remote.test', subject: 'a notification' })));
  await gw.waitLog(new RegExp(`${id}: to=<bad@remote\\.test>, .*status=bounced`));
  await gw.waitLog(new RegExp(`postfix/bounce\\[\\d+\\]: ${id}: undeliverable mail from the null sender, not returned`));
  await gw.waitLog(new RegExp(`${id}: removed`));
  assert.doesNotMatch(gw.log(), new RegExp(`${id}: sender non-delivery notification`));

  // 2. A sender whose own address refuses mail: the bounce bounces and stops there.
  const id2 = queuedId(await sendMessage(c, 'gone@remote.test', ['bad@remote.test'], messageText({ from: 'gone@remote.test', to: 'bad@remote.test', subject: 'twice' })));
  await c.cmd('QUIT');
  const bid = (await gw.waitLog(new RegExp(`${id2}: sender non-delivery notification: ([0-9A-F]+)`)))[1]!;
  await gw.waitLog(new RegExp(`${bid}: to=<gone@remote\\.test>, .*status=bounced`));
  await gw.waitLog(new RegExp(`postfix/bounce\\[\\d+\\]: ${bid}: undeliverable notification, not returned`));
  await gw.waitLog(new RegExp(`${bid}: removed`));
  assert.doesNotMatch(gw.log(), new RegExp(`${bid}: sender non-delivery notification`));
  await sleep(300);
  const q = await runCli(['queue', '--config', gw.dir]);
  assert.match(q.stdout, /^Mail queue is empty$/m, 'nothing left behind');
  assert.equal(sink.messages.length, 0, 'nothing was accepted by the next hop');
});

test('discard transport via transport_maps: logged as sent, never reaches the next hop', async (t) => {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    relayhost: `[127.0.0.1]:${sink.port}`,
    default_transport: 'smtp',
    transport_maps: 'inline:{ discard.test=discard:silenced }',
  });
  const tok = token('discard');
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  const id = queuedId(await sendMessage(c, 'bob@example.test', ['x@discard.test', 'y@remote.test'],
    messageText({ from: 'bob@example.test', to: 'x@discard.test', subject: 'discard me', headers: { 'X-Mxg-Token': tok } })));
  await c.cmd('QUIT');
  await gw.waitLog(new RegExp(`postfix/discard\\[\\d+\\]: ${id}: to=<x@discard\\.test>, relay=none, delay=[\\d.]+, delays=[\\d./]+, dsn=2\\.0\\.0, status=sent \\(silenced\\)`));
  await gw.waitLog(new RegExp(`${id}: to=<y@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port}, .*status=sent`));
  await gw.waitLog(new RegExp(`${id}: removed`));
  const got: SinkMessage[] = sink.messages.filter((m) => m.data.toString().includes(tok));
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.rcptTo, ['y@remote.test'], 'only the non-discarded recipient reaches the next hop');
  assert.doesNotMatch(gw.log(), new RegExp(`${id}: sender non-delivery notification`));
});

test('maximal_queue_lifetime: a message deferred past its lifetime is returned to the sender as expired', async (t) => {
  const sink = await startSink(t, { rcptReplies: { 'late@remote.test': '450 4.2.0 <late@remote.test>: Mailbox temporarily unavailable' } });
  const gw = await startGateway(t, {
    relayhost: `[127.0.0.1]:${sink.port}`,
    default_transport: 'smtp',
    maximal_queue_lifetime: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '1s',
    queue_run_delay: '1s',
  });
  const tok = token('expire');
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  const id = queuedId(await sendMessage(c, 'sender@example.test', ['late@remote.test'],
    messageText({ from: 'sender@example.test', to: 'late@remote.test', subject: 'will expire', headers: { 'X-Mxg-Token': tok } })));
  await c.cmd('QUIT');

  await gw.waitLog(new RegExp(`${id}: to=<late@remote\\.test>, .*dsn=4\\.2\\.0, status=deferred \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 450 4\\.2\\.0`));
  await gw.waitLog(new RegExp(`postfix/qmgr\\[\\d+\\]: ${id}: from=<sender@example\\.test>, status=expired, returned to sender`), 30_000);
  await gw.waitLog(new RegExp(`${id}: sender non-delivery notification: [0-9A-F]+`));
  await gw.waitLog(new RegExp(`${id}: removed`));
  const bounce = await waitForMail(gwMaildir(gw, 'sender'), tok);
  assert.match(bounce, /^Return-Path: <>/);
  assertDsn(bounce, 'late@remote.test', /^[45]\.2\.0$/, /450 4\.2\.0 <late@remote\.test>: Mailbox temporarily unavailable/);
  assert.equal(maildirTexts(gwMaildir(gw, 'sender')).length, 1, 'exactly one notice');
  assert.equal(sink.messages.length, 0);
});

test('delay_warning_time: one "Delayed Mail" notice while the message is still being retried', async (t) => {
  const replies: Record<string, string> = { 'slow@remote.test': '450 4.2.0 <slow@remote.test>: Mailbox temporarily unavailable' };
  const sink = await startSink(t, { rcptReplies: replies });
  const gw = await startGateway(t, {
    relayhost: `[127.0.0.1]:${sink.port}`,
    default_transport: 'smtp',
    delay_warning_time: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '1s',
    queue_run_delay: '1s',
  });
  const tok = token('delay');
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  const id = queuedId(await sendMessage(c, 'waiter@example.test', ['slow@remote.test'],
    messageText({ from: 'waiter@example.test', to: 'slow@remote.test', subject: 'slow one', headers: { 'X-Mxg-Token': tok } })));
  await c.cmd('QUIT');
  await gw.waitLog(new RegExp(`${id}: sender delay notification: [0-9A-F]+`), 30_000);
  const notice = await waitForMail(gwMaildir(gw, 'waiter'), tok);
  assert.match(notice, /^Subject: Delayed Mail \(still being retried\)/m);
  assert.match(notice, /^Action: delayed/m);
  assert.match(notice, /^Status: 4\.2\.0/m);
  // The message itself stays queued and is delivered once the next hop accepts it.
  delete replies['slow@remote.test'];
  await gw.waitLog(new RegExp(`${id}: to=<slow@remote\\.test>, .*status=sent`), 30_000);
  assert.equal(maildirTexts(gwMaildir(gw, 'waiter')).length, 1, 'exactly one delay notice');
  assert.equal([...gw.log().matchAll(new RegExp(`${id}: sender delay notification`, 'g'))].length, 1);
});

test('DSN requests (RFC 3461): NOTIFY=NEVER gets no notice, RET=HDRS returns headers only', async (t) => {
  const refuse = '550 5.1.1 Recipient address rejected: User unknown';
  const sink = await startSink(t, { rcptReplies: { 'quiet@remote.test': refuse, 'loud@remote.test': refuse } });
  const gw = await startGateway(t, { relayhost: `[127.0.0.1]:${sink.port}`, default_transport: 'smtp' });
  const tok = token('dsn');
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  assert.equal((await c.cmd('MAIL FROM:<dsn@example.test> RET=HDRS')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<quiet@remote.test> NOTIFY=NEVER')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<loud@remote.test> NOTIFY=FAILURE,DELAY')).code, 250);
  assert.deepEqual(await c.cmd('RCPT TO:<x@remote.test> NOTIFY=NEVER,FAILURE').then((x) => [x.code, x.status]), [501, '5.5.4']);
  assert.equal((await c.cmd('DATA')).code, 354);
  const r = await c.cmd(`Subject: dsn\r\nX-Mxg-Token: ${tok}\r\n\r\nthe body stays home ${tok}-body\r\n.`);
  const id = queuedId(r);
  await c.cmd('QUIT');
  await gw.waitLog(new RegExp(`${id}: no non-delivery notice for 1 recipient\\(s\\) by their NOTIFY request`));
  await gw.waitLog(new RegExp(`${id}: sender non-delivery notification: [0-9A-F]+`));
  const bounce = await waitForMail(gwMaildir(gw, 'dsn'), 'multipart/report');
  assert.match(bounce, /^Final-Recipient: rfc822; ?loud@remote\.test/mi);
  assert.doesNotMatch(bounce, /quiet@remote\.test/);
  assert.match(bounce, /text\/rfc822-headers/);
  assert.ok(bounce.includes(tok), 'the headers are returned');
  assert.ok(!bounce.includes(`${tok}-body`), 'the body is not');
});

test('default_destination_concurrency_limit bounds parallel deliveries to one next hop', async (t) => {
  const { createServer } = await import('node:net');
  let open = 0, peak = 0, delivered = 0;
  // A slow next hop: every reply waits 150 ms, so deliveries overlap unless they are bounded.
  // A delivery counts from the connection to its QUIT (teardown of a finished one may overlap).
  const srv = createServer((s) => {
    open++; peak = Math.max(peak, open);
    let counted = true;
    const finished = () => { if (counted) { counted = false; open--; } };
    s.on('close', finished);
    s.on('error', () => {});
    const say = (line: string) => setTimeout(() => s.writable && s.write(line + '\r\n'), 150);
    let inData = false, buf = '';
    say('220 slow.test ESMTP');
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 2);
        if (inData) { if (line === '.') { inData = false; delivered++; say('250 2.0.0 Ok'); } continue; }
        const v = line.slice(0, 4).toUpperCase();
        if (v === 'EHLO') say('250 slow.test');
        else if (v === 'DATA') { inData = true; say('354 go'); }
        else if (v === 'QUIT') { finished(); setTimeout(() => s.end('221 bye\r\n'), 150); }
        else say('250 2.0.0 Ok');
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as { port: number }).port;
  const gw = await startGateway(t, { relayhost: `[127.0.0.1]:${port}`, default_transport: 'smtp', default_destination_concurrency_limit: '2' });
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  for (let i = 0; i < 6; i++) {
    assert.equal((await sendMessage(c, 'a@example.test', [`r${i}@remote.test`], messageText({ from: 'a@example.test', to: `r${i}@remote.test`, subject: `c${i}` }))).code, 250);
  }
  await waitFor(() => delivered === 6, 'six deliveries', 30_000);
  assert.ok(peak <= 2, `at most 2 connections at once to the next hop, saw ${peak}`);
  assert.ok(peak >= 1);
});

test('notify_classes = 2bounce: an undeliverable bounce goes to the postmaster once, and no further', async (t) => {
  const refuse = '550 5.1.1 Recipient address rejected: User unknown';
  const sink = await startSink(t, { rcptReplies: { 'bad@remote.test': `550 5.1.1 <bad@remote.test>: ${refuse}`, 'gone@remote.test': `550 5.1.1 <gone@remote.test>: ${refuse}` } });
  const gw = await startGateway(t, { relayhost: `[127.0.0.1]:${sink.port}`, default_transport: 'smtp', notify_classes: 'resource, software, 2bounce', myorigin: 'example.test' });
  const { c } = await connectClient(t, gw.port);
  await c.cmd('EHLO client.test');
  const tok = token('2b');
  const id = queuedId(await sendMessage(c, 'gone@remote.test', ['bad@remote.test'], messageText({ from: 'gone@remote.test', to: 'bad@remote.test', subject: tok })));
  await c.cmd('QUIT');
  const bid = (await gw.waitLog(new RegExp(`${id}: sender non-delivery notification: ([0-9A-F]+)`)))[1]!;
  const pid = (await gw.waitLog(new RegExp(`${bid}: postmaster non-delivery notification: ([0-9A-F]+)`)))[1]!;
  await gw.waitLog(new RegExp(`${pid}: to=<postmaster@example\\.test>, relay=virtual, .*status=sent`));
  const notice = await waitForMail(gwMaildir(gw, 'postmaster'), 'multipart/report');
  assert.match(notice, /^Final-Recipient: rfc822; ?gone@remote\.test/mi);
  assert.doesNotMatch(gw.log(), new RegExp(`${pid}: (sender|postmaster) non-delivery notification`));
});
