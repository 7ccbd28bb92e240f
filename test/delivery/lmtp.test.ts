/**
 * The lmtp agent: against the sink in LMTP mode (TCP and a UNIX-domain socket), and against a
 * real Dovecot LMTP server that stores into a Maildir and refuses unknown users.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLmtpAgent, parseLmtpNexthop } from '../../src/delivery/lmtp.js';
import { startSink } from '../helpers/smtp-sink.js';
import { startDovecot } from '../helpers/dovecot.js';
import { testConfig, testRequest } from './config-helper.js';

const signal = () => new AbortController().signal;
const agent = createLmtpAgent({ lookupHost: async (n) => { throw new Error(`unexpected lookup of ${n}`); } });

test('lmtp: LHLO, then one reply per accepted recipient after the dot (RFC 2033 §4.2)', async (t) => {
  const sink = await startSink(t, {
    lmtp: true,
    rcptReplies: { 'ghost@example.test': '550 5.1.1 <ghost@example.test> User doesn\'t exist: ghost@example.test' },
    endReply: (_m, rcpt) => (rcpt === 'full@example.test' ? `452 4.2.2 <${rcpt}> Quota exceeded (mailbox for user is full)` : `250 2.0.0 <${rcpt}> 8Jf2Ew Saved`),
  });
  const cfg = testConfig({ lmtp_lhlo_name: 'gw.example.test' });
  const res = await agent.deliver(testRequest(cfg, {
    transport: 'lmtp', nexthop: `inet:127.0.0.1:${sink.port}`,
    recipients: ['alice@example.test', 'ghost@example.test', 'full@example.test', 'bob@example.test'],
  }), signal());
  const host = '127.0.0.1[127.0.0.1]';
  assert.deepEqual(res.map((r) => [r.status, r.dsn, r.text]), [
    ['sent', '2.0.0', '250 2.0.0 <alice@example.test> 8Jf2Ew Saved'],
    ['bounced', '5.1.1', `host ${host} said: 550 5.1.1 <ghost@example.test> User doesn't exist: ghost@example.test (in reply to RCPT TO command)`],
    ['deferred', '4.2.2', `host ${host} said: 452 4.2.2 <full@example.test> Quota exceeded (mailbox for user is full) (in reply to end of DATA command)`],
    ['sent', '2.0.0', '250 2.0.0 <bob@example.test> 8Jf2Ew Saved'],
  ]);
  for (const r of res) assert.equal(r.relay, `${host}:${sink.port}`);
  assert.equal(sink.commands[0], 'LHLO gw.example.test');
  assert.deepEqual(sink.messages[0]!.rcptTo, ['alice@example.test', 'full@example.test', 'bob@example.test']);
});

test('lmtp: a UNIX-domain socket, relative to queue_directory as in Postfix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-lmtp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'private'));
  const sink = await startSink(t, { lmtp: true, path: join(dir, 'private', 'lmtp') });
  const cfg = testConfig({ queue_directory: dir });
  const [r] = await agent.deliver(testRequest(cfg, { transport: 'lmtp', nexthop: 'unix:private/lmtp', recipients: ['alice@example.test'] }), signal());
  assert.equal(r!.status, 'sent');
  assert.equal(r!.relay, 'mx.example.test[private/lmtp]');
  assert.equal(sink.messages.length, 1);

  const [gone] = await agent.deliver(testRequest(cfg, { transport: 'lmtp', nexthop: 'unix:private/none', recipients: ['alice@example.test'] }), signal());
  assert.deepEqual({ status: gone!.status, dsn: gone!.dsn, relay: gone!.relay, text: gone!.text },
    { status: 'deferred', dsn: '4.4.1', relay: 'none', text: 'connect to mx.example.test[private/none]: No such file or directory' });
});

test('lmtp: connection refused defers with 4.4.1', async (t) => {
  const sink = await startSink(t, { lmtp: true, mode: 'refuse' });
  const [r] = await agent.deliver(testRequest(testConfig(), { transport: 'lmtp', nexthop: `127.0.0.1:${sink.port}`, recipients: ['alice@example.test'] }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.4.1');
  assert.equal(r!.text, `connect to 127.0.0.1[127.0.0.1]:${sink.port}: Connection refused`);
});

test('lmtp: nexthop syntax', () => {
  const cfg = testConfig({ queue_directory: '/var/spool/mxguard' });
  assert.deepEqual(parseLmtpNexthop('inet:127.0.0.1:24', cfg), { kind: 'inet', host: '127.0.0.1', port: 24 });
  assert.deepEqual(parseLmtpNexthop('inet:[::1]:2424', cfg), { kind: 'inet', host: '::1', port: 2424 });
  assert.deepEqual(parseLmtpNexthop('localhost', cfg), { kind: 'inet', host: 'localhost', port: 24 });
  assert.deepEqual(parseLmtpNexthop('unix:/run/dovecot/lmtp', cfg), { kind: 'unix', path: '/run/dovecot/lmtp', shown: '/run/dovecot/lmtp' });
  assert.deepEqual(parseLmtpNexthop('/run/dovecot/lmtp', cfg), { kind: 'unix', path: '/run/dovecot/lmtp', shown: '/run/dovecot/lmtp' });
  assert.deepEqual(parseLmtpNexthop('unix:private/dovecot-lmtp', cfg), { kind: 'unix', path: '/var/spool/mxguard/private/dovecot-lmtp', shown: 'private/dovecot-lmtp' });
});

test('lmtp: real Dovecot stores the message in the user\'s Maildir and refuses an unknown user', async (t) => {
  const dovecot = await startDovecot(t, { users: ['alice'] });
  if (!dovecot) return; // skipped: Dovecot not installed
  const msg = 'From: a@sender.test\r\nTo: alice@example.test\r\nSubject: via lmtp\r\nMessage-ID: <lmtp-test-1@sender.test>\r\n\r\nfirst line\r\n.a line that starts with a dot\r\n.\r\nlast line\r\n';
  const res = await agent.deliver(testRequest(testConfig(), {
    transport: 'lmtp', nexthop: `inet:127.0.0.1:${dovecot.port}`,
    recipients: ['alice@example.test', 'nosuchuser@example.test'], message: msg,
  }), signal());
  assert.equal(res[0]!.status, 'sent', `${res[0]!.text}\n${dovecot.log()}`);
  assert.equal(res[0]!.dsn, '2.0.0');
  assert.match(res[0]!.text, /^250 2\.0\.0 <alice@example\.test> \S+ Saved$/);
  assert.equal(res[0]!.relay, `127.0.0.1[127.0.0.1]:${dovecot.port}`);
  assert.equal(res[1]!.status, 'bounced', res[1]!.text);
  assert.equal(res[1]!.dsn, '5.1.1');
  assert.match(res[1]!.text, /^host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 .*nosuchuser.* \(in reply to RCPT TO command\)$/);

  const files = dovecot.messages('alice');
  assert.equal(files.length, 1, dovecot.log());
  const stored = readFileSync(files[0]!, 'utf8');
  // Dovecot stores LF line ends and adds its own Return-Path/Delivered-To; the text is ours.
  const text = stored.replace(/\r\n/g, '\n');
  assert.match(text, /^Return-Path: <a@sender\.test>$/m);
  assert.match(text, /^Subject: via lmtp$/m);
  assert.ok(text.endsWith('\n\nfirst line\n.a line that starts with a dot\n.\nlast line\n'), text);
});
