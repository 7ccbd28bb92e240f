/**
 * The virtual (Maildir) agent: where files land, what they contain, and how bad addresses and
 * disk errors are reported.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maildirAgent, mailboxFor, uniqueName } from '../../src/delivery/maildir.js';
import { clearTableCache } from '../../src/delivery/transport.js';
import { testConfig, testRequest } from './config-helper.js';

function tempBase(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-maildir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const signal = () => new AbortController().signal;

test('maildir: a message lands in new/ with Return-Path and Delivered-To, LF line ends', async (t) => {
  const base = tempBase(t);
  const cfg = testConfig({ virtual_mailbox_base: base });
  const msg = 'Subject: hi\r\n\r\nline one\r\n.dot line\r\n';
  const [r] = await maildirAgent.deliver(testRequest(cfg, { sender: 'from@sender.test', recipients: ['Bob@Example.TEST'], message: msg, chunkSize: 3 }), signal());
  assert.deepEqual({ ...r, transmission: undefined, connSetup: undefined },
    { address: 'Bob@Example.TEST', status: 'sent', dsn: '2.0.0', relay: 'virtual', text: 'delivered to maildir', transmission: undefined, connSetup: undefined });

  // The domain is lower-cased, the local part kept as it is.
  const box = join(base, 'example.test', 'Bob');
  for (const sub of ['tmp', 'new', 'cur']) assert.ok(statSync(join(box, sub)).isDirectory(), `${sub}/ exists`);
  assert.deepEqual(readdirSync(join(box, 'tmp')), [], 'tmp/ is empty after delivery');
  const files = readdirSync(join(box, 'new'));
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^\d+\.M\d+P\d+Q\d+\.[^/]+$/);
  assert.equal((statSync(join(box, 'new', files[0]!)).mode & 0o777), 0o600);
  assert.equal(readFileSync(join(box, 'new', files[0]!), 'utf8'),
    'Return-Path: <from@sender.test>\nDelivered-To: Bob@Example.TEST\nSubject: hi\n\nline one\n.dot line\n');
});

test('maildir: the null sender is written as Return-Path: <>; two copies get two names', async (t) => {
  const base = tempBase(t);
  const cfg = testConfig({ virtual_mailbox_base: base });
  const res = await maildirAgent.deliver(testRequest(cfg, { sender: '', recipients: ['a@example.test', 'a@example.test'] }), signal());
  assert.deepEqual(res.map((r) => r.status), ['sent', 'sent']);
  const dir = join(base, 'example.test', 'a', 'new');
  const files = readdirSync(dir);
  assert.equal(files.length, 2);
  for (const f of files) assert.match(readFileSync(join(dir, f), 'utf8'), /^Return-Path: <>\nDelivered-To: a@example.test\n/);
  assert.notEqual(uniqueName(1000), uniqueName(1000));
});

test('maildir: virtual_mailbox_maps chooses the path; unknown users bounce; mbox paths defer', async (t) => {
  const base = tempBase(t);
  clearTableCache();
  const cfg = testConfig({
    virtual_mailbox_base: base,
    virtual_mailbox_maps: 'inline:{ bee@hosted.test=hosted.test/bee/, @catchall.test=catchall/all/, mbox@hosted.test=hosted.test/mbox }',
  });
  const res = await maildirAgent.deliver(testRequest(cfg, {
    recipients: ['bee@hosted.test', 'anyone@catchall.test', 'nobody@hosted.test', 'mbox@hosted.test'],
  }), signal());
  assert.deepEqual(res.map((r) => [r.status, r.dsn]), [['sent', '2.0.0'], ['sent', '2.0.0'], ['bounced', '5.1.1'], ['deferred', '4.3.5']]);
  assert.equal(res[2]!.text, 'unknown user: "nobody@hosted.test"');
  assert.match(res[3]!.text, /Maildir only/);
  assert.equal(readdirSync(join(base, 'hosted.test', 'bee', 'new')).length, 1);
  assert.equal(readdirSync(join(base, 'catchall', 'all', 'new')).length, 1);
  assert.equal(existsSync(join(base, 'hosted.test', 'mbox')), false);
  assert.deepEqual(mailboxFor(cfg, 'bee@HOSTED.test'), { kind: 'maildir', path: join(base, 'hosted.test', 'bee') + '/' });
});

test('maildir: local parts that are not safe file names bounce with 5.1.3 and write nothing', async (t) => {
  const base = tempBase(t);
  const cfg = testConfig({ virtual_mailbox_base: base });
  const bad = ['../../etc@example.test', '..@example.test', '.@example.test', 'a/b@example.test', 'nul\0x@example.test', 'x@../up', '@example.test'];
  const res = await maildirAgent.deliver(testRequest(cfg, { recipients: bad }), signal());
  for (const r of res) {
    assert.equal(r.status, 'bounced', r.address);
    assert.equal(r.dsn, '5.1.3', r.address);
    assert.equal(r.relay, 'virtual');
  }
  assert.deepEqual(readdirSync(base), [], 'nothing created under the base');
});

test('maildir: a file-system error defers with 4.3.0 and leaves no tmp file', async (t) => {
  const base = tempBase(t);
  // The domain directory is a regular file: mkdir below it fails with ENOTDIR.
  writeFileSync(join(base, 'example.test'), 'not a directory');
  const cfg = testConfig({ virtual_mailbox_base: base });
  const [r] = await maildirAgent.deliver(testRequest(cfg, { recipients: ['u@example.test'] }), signal());
  assert.equal(r!.status, 'deferred');
  assert.equal(r!.dsn, '4.3.0');
  assert.match(r!.text, /^maildir delivery failed: /);
});

test('maildir: a spool read error defers and removes the partial file', async (t) => {
  const base = tempBase(t);
  const cfg = testConfig({ virtual_mailbox_base: base });
  const [r] = await maildirAgent.deliver(testRequest(cfg, { recipients: ['u@example.test'], chunkSize: 4, failAfter: 8 }), signal());
  assert.equal(r!.status, 'deferred');
  assert.match(r!.text, /spool file read error/);
  assert.deepEqual(readdirSync(join(base, 'example.test', 'u', 'tmp')), []);
  assert.deepEqual(readdirSync(join(base, 'example.test', 'u', 'new')), []);
});

test('maildir: an aborted delivery defers what is left', async (t) => {
  const base = tempBase(t);
  const cfg = testConfig({ virtual_mailbox_base: base });
  const ac = new AbortController();
  ac.abort(new Error('shutting down'));
  const [r] = await maildirAgent.deliver(testRequest(cfg, { recipients: ['u@example.test'] }), ac.signal);
  assert.equal(r!.status, 'deferred');
  assert.match(r!.text, /shutting down/);
});
