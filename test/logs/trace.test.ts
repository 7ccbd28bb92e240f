/**
 * @module test/logs/trace
 * The log parser (both stamp forms, queue id forms, program names, gzip) and `mxguard logs trace`
 * on the seed-000 maillog: a spam let in by a reject_warning, then re-injected by amavis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { scanLogs, type InputLine } from '../../src/logs/input.js';
import { parseLine } from '../../src/logs/parse.js';
import { classifyQuery, trace } from '../../src/logs/trace.js';
import { repoRoot, runCli } from '../helpers/run-cli.js';

const fixture = join(repoRoot, 'test/fixtures/seed-000-maillog.txt');
const now = new Date(2026, 6, 20, 12, 0, 0);

test('traditional stamp: host, program, pid, short queue id; year inferred', () => {
  const l = parseLine('Jul 19 07:59:07 mail postfix/smtpd[15492]: B8D5D20BDD: client=unknown[37.215.63.185]', { now });
  assert.ok(l);
  assert.deepEqual(l.time, new Date(2026, 6, 19, 7, 59, 7));
  assert.equal(l.host, 'mail');
  assert.equal(l.program, 'postfix/smtpd');
  assert.equal(l.pid, 15492);
  assert.equal(l.queueId, 'B8D5D20BDD');
  assert.equal(l.text, 'B8D5D20BDD: client=unknown[37.215.63.185]');
  // A date that would lie in the future belongs to the previous year.
  const dec = parseLine('Dec 31 23:00:00 mail postfix/qmgr[1]: B8D5D20BDD: removed', { now });
  assert.equal(dec?.time.getFullYear(), 2025);
  // Single-digit day padded with a blank.
  assert.equal(parseLine('Jul  9 01:02:03 mail postfix/qmgr[1]: B8D5D20BDD: removed', { now })?.time.getDate(), 9);
});

test('RFC 3339 stamp, submission/smtpd, postfix-INSTANCE, long queue id, NOQUEUE, no pid', () => {
  const a = parseLine('2026-11-27T10:00:00.123+00:00 mx1 postfix/submission/smtpd[1]: 4dGx3K1MQXz9sXv: client=a.example[192.0.2.1]');
  assert.ok(a);
  assert.equal(a.time.toISOString(), '2026-11-27T10:00:00.123Z');
  assert.equal(a.program, 'postfix/submission/smtpd');
  assert.equal(a.queueId, '4dGx3K1MQXz9sXv');
  const b = parseLine('2026-11-27T10:00:01Z mx1 postfix-out/qmgr[22]: 3mPVKl0Mhjz7sXv: removed');
  assert.equal(b?.program, 'postfix-out/qmgr');
  assert.equal(b?.queueId, '3mPVKl0Mhjz7sXv');
  const c = parseLine('Jul 19 07:59:07 mail postfix/smtpd[15492]: NOQUEUE: reject: RCPT from x[192.0.2.9]: 554 5.7.1 denied', { now });
  assert.equal(c?.queueId, undefined);
  assert.match(c?.text ?? '', /^NOQUEUE: reject:/);
  const d = parseLine('Jul 19 07:59:11 mail dovecot: lda(u): stored', { now });
  assert.equal(d?.program, 'dovecot');
  assert.equal(d?.pid, undefined);
  assert.equal(parseLine('not a log line'), undefined);
});

test('gzip input is detected by its magic bytes; unparsed lines are counted', async () => {
  const text = 'Jul 19 07:59:07 mail postfix/qmgr[1]: B8D5D20BDD: removed\ngarbage\n2026-11-27T10:00:00Z h postfix/smtpd[2]: connect from x[192.0.2.1]\n';
  const gz = join(mkdtempSync(join(tmpdir(), 'mxguard-logs-')), 'maillog.1');
  writeFileSync(gz, gzipSync(text));
  const got: InputLine[] = [];
  const stats = await scanLogs({ files: [gz], now }, (l) => got.push(l));
  assert.deepEqual(got.map((l) => l.program), ['postfix/qmgr', 'postfix/smtpd']);
  assert.deepEqual([stats.lines, stats.parsed, stats.unparsed], [3, 2, 1]);
});

test('trace by client IP and by message-id finds both hops; gzip file works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-logs-'));
  const gz = join(dir, 'maillog.gz');
  writeFileSync(gz, gzipSync(readFileSync(fixture)));
  const byIp = await trace(classifyQuery('37.215.63.185'), { files: [gz], now });
  assert.deepEqual(byIp.ids, ['B8D5D20BDD', '96E1820C16']);
  const byMsgId = await trace(classifyQuery('<[email protected]>'), { files: [fixture], now });
  assert.deepEqual(new Set(byMsgId.ids), new Set(['B8D5D20BDD', '96E1820C16']));
  assert.equal(classifyQuery('3mPVKl0Mhjz7sXv').kind, 'id');
  assert.equal(classifyQuery('[email protected]').kind, 'address');
});

test('mxguard logs trace <queue id>: reject_warning called out, amavis hop followed', async () => {
  const r = await runCli(['logs', 'trace', 'B8D5D20BDD', fixture]);
  assert.equal(r.code, 0, r.stderr);
  const [lines, summary] = r.stdout.split('\nSummary:\n');
  assert.ok(lines && summary);
  // The session's NOQUEUE reject_warning comes first, then both queue ids' lines, in log order.
  assert.match(lines.split('\n')[0]!, /NOQUEUE: reject_warning: RCPT from unknown\[37\.215\.63\.185\]/);
  assert.match(lines, /96E1820C16: to=.*status=sent \(delivered via dovecot service\)/);
  assert.doesNotMatch(lines, /postgrey|amavis/);
  assert.match(summary, /B8D5D20BDD: accepted from unknown\[37\.215\.63\.185\]; .*re-queued as 96E1820C16/);
  assert.match(summary, /96E1820C16: re-injected from B8D5D20BDD; .*delivered to </);
  assert.match(summary, /a restriction would have rejected this message but warn_if_reject turned it into a warning: RCPT from unknown\[37\.215\.63\.185\]: 504 5\.5\.2 .*Helo command rejected: need fully-qualified hostname/);
});

test('mxguard logs trace: nothing matched exits 1', async () => {
  const r = await runCli(['logs', 'trace', 'ABCDEF0123', fixture]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /nothing matched/);
});

test('trace by the re-injected id finds its parent and the parent\'s session; fast path and full parse agree', async () => {
  const fast = await runCli(['logs', 'trace', '96E1820C16', fixture]);
  const full = await runCli(['logs', 'trace', '--strict', '96E1820C16', fixture]);
  assert.equal(fast.code, 0, fast.stderr);
  assert.match(fast.stdout, /B8D5D20BDD: client=unknown\[37\.215\.63\.185\]/);
  assert.match(fast.stdout, /NOQUEUE: reject_warning: RCPT from unknown\[37\.215\.63\.185\]/);
  assert.match(fast.stdout, /96E1820C16: re-injected from B8D5D20BDD/);
  const body = (s: string): string => s.split('\nSummary:\n')[0]!;
  assert.equal(body(fast.stdout), body(full.stdout));
});
