/**
 * @module test/logs/input
 * The shared log reader: files in any order (oldest first), year inference per file from its
 * modification time, gzip on files and on standard input, CRLF, the time range, unparsed lines
 * reported for --strict, and no progress bar when standard error is not a terminal.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { dayRange, parseTimeOption, scanLogs, type InputLine } from '../../src/logs/input.js';
import { parseLine } from '../../src/logs/parse.js';
import { cliMain, runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mxguard-input-'));

async function scan(files: string[], extra: Partial<Parameters<typeof scanLogs>[0]> = {}): Promise<{ lines: InputLine[]; stats: Awaited<ReturnType<typeof scanLogs>>; unparsed: string[] }> {
  const lines: InputLine[] = [];
  const unparsed: string[] = [];
  const stats = await scanLogs({ files, onUnparsed: (raw, file, n) => unparsed.push(`${file}:${n}: ${raw}`), ...extra }, (l) => lines.push(l));
  return { lines, stats, unparsed };
}

test('program names of Postfix, its instances and services, and the usual neighbours; IPv6', () => {
  const now = new Date(2026, 10, 27);
  const cases: Array<[string, string, number | undefined]> = [
    ['Nov 27 10:00:00 mx postfix/smtps/smtpd[12]: connect from x[2001:db8::1]', 'postfix/smtps/smtpd', 12],
    ['Nov 27 10:00:00 mx postfix-incoming/postscreen[13]: CONNECT from [2001:db8::2]:4711 to [2001:db8::25]:25', 'postfix-incoming/postscreen', 13],
    ['Nov 27 10:00:00 mx postgrey[700]: action=greylist, reason=new, client_name=x, client_address=2001:db8::3, sender=a@b, recipient=c@d', 'postgrey', 700],
    ['Nov 27 10:00:00 mx policyd-spf[701]: prepend Received-SPF: Pass (mailfrom) identity=mailfrom', 'policyd-spf', 701],
    ['Nov 27 10:00:00 mx amavis[702]: (00702-01) Passed CLEAN {RelayedInbound}', 'amavis', 702],
    ['Nov 27 10:00:00 mx dovecot: imap-login: Login: user=<a@b>', 'dovecot', undefined],
    ['Nov 27 10:00:00 mx postfix/sender-cleanup/cleanup[9]: 984BB13B35D: replace: header', 'postfix/sender-cleanup/cleanup', 9],
  ];
  for (const [line, program, pid] of cases) {
    const l = parseLine(line, { now });
    assert.ok(l, line);
    assert.equal(l.program, program);
    assert.equal(l.pid, pid);
  }
  // A day that is not space-padded (seen in real logs: `May 9 22:12:21`).
  assert.equal(parseLine('May 9 22:12:21 mx postfix/qmgr[1]: 984BB13B35D: removed', { now })?.time.getDate(), 9);
  assert.equal(parseLine('May 9 22:12:21 mx postfix/qmgr[1]: 984BB13B35D: removed', { now })?.queueId, '984BB13B35D');
  // Not log lines.
  for (const bad of ['', 'Nov 27', 'Nov 27 10:00:00 mx', 'Nov 27 10:00:00 mx no colon here', '2026-13-45T99:00:00Z mx p[1]: x', 'Nov 27 10:00:00 mx prog[abc]: x']) {
    assert.equal(parseLine(bad, { now }), undefined, bad);
  }
});

test('files are read oldest first whatever order they are named in; the year comes from each file', async () => {
  const older = join(dir, 'mail.log.1');
  const newer = join(dir, 'mail.log');
  // The older file was rotated at the turn of the year: its December lines belong to 2025.
  writeFileSync(older, 'Dec 31 23:59:58 mx postfix/qmgr[1]: AAAAAA0001: removed\nJan  1 00:00:01 mx postfix/qmgr[1]: AAAAAA0002: removed\n');
  utimesSync(older, new Date(2026, 0, 1, 0, 0, 2), new Date(2026, 0, 1, 0, 0, 2));
  writeFileSync(newer, 'Mar  3 10:00:00 mx postfix/qmgr[1]: AAAAAA0003: removed\r\n');
  utimesSync(newer, new Date(2026, 2, 3, 10, 0, 1), new Date(2026, 2, 3, 10, 0, 1));
  const { lines, stats } = await scan([newer, older]);
  assert.deepEqual(lines.map((l) => l.queueId), ['AAAAAA0001', 'AAAAAA0002', 'AAAAAA0003']);
  assert.deepEqual(lines.map((l) => l.time.getFullYear()), [2025, 2026, 2026]);
  assert.equal(lines[2]!.raw.endsWith('removed'), true, 'CR of CRLF removed');
  assert.deepEqual(stats.files, [older, newer]);
  assert.equal(lines[0]!.lineNo, 1);
  assert.equal(lines[1]!.lineNo, 2);
});

test('gzip files; unparsed lines reported with file and line', async () => {
  const text = 'Nov 27 10:00:00 mx postfix/qmgr[1]: AAAAAA0001: removed\nthis is not a log line\nNov 27 10:00:01 mx postfix/qmgr[1]: AAAAAA0002: removed\n';
  const gz = join(dir, 'mail.log.2.gz');
  writeFileSync(gz, gzipSync(text));
  const { lines, stats, unparsed } = await scan([gz], { now: new Date(2026, 10, 28) });
  assert.equal(lines.length, 2);
  assert.equal(stats.unparsed, 1);
  assert.deepEqual(unparsed, [`${gz}:2: this is not a log line`]);
});

test('standard input: plain and gzip, and --strict exit status', async () => {
  const text = 'Nov 27 10:00:00 mx postfix/qmgr[1]: AAAAAA0001: removed\ngarbage\n';
  const plain = await runCli(['logs', 'trace', 'AAAAAA0001', '--strict'], { input: text });
  assert.equal(plain.code, 1, 'a line was not understood');
  assert.match(plain.stderr, /^-:2: not in Postfix log format: garbage$/m);
  assert.match(plain.stdout, /AAAAAA0001: removed/);
  // Without --strict, a trace by queue id parses only the lines naming the id (its fast path);
  // a trace by address parses every line and counts the ones it could not read.
  const lenient = await runCli(['logs', 'trace', 'a@example.org'], { input: `Nov 27 09:59:59 mx postfix/qmgr[1]: AAAAAA0001: from=<a@example.org>, size=1, nrcpt=1 (queue active)\n${text}` });
  assert.equal(lenient.code, 0);
  assert.match(lenient.stderr, /1 of 3 lines were not understood/);
  assert.doesNotMatch(lenient.stderr, /\r|\x1b\[/, 'no progress bar when standard error is not a terminal');
  // gzip on standard input is recognised by its magic bytes.
  const gz = join(dir, 'stdin.gz');
  writeFileSync(gz, gzipSync(text));
  const viaPipe = spawnSync('sh', ['-c', `"${process.execPath}" "${cliMain}" logs trace AAAAAA0001 - < "${gz}"`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(viaPipe.status, 0, viaPipe.stderr);
  assert.match(viaPipe.stdout, /Nov 27 10:00:00 mx postfix\/qmgr\[1\]: AAAAAA0001: removed/);
});

test('since/until keep since <= t < until; -d today|yesterday; time option forms', async () => {
  const f = join(dir, 'range.log');
  writeFileSync(f, ['Nov 26 23:59:59', 'Nov 27 00:00:00', 'Nov 27 12:00:00', 'Nov 28 00:00:00']
    .map((s, i) => `${s} mx postfix/qmgr[1]: AAAAAA000${i}: removed`).join('\n'));
  const now = new Date(2026, 10, 28, 12);
  const day = dayRange('yesterday', now);
  assert.deepEqual(day, { since: new Date(2026, 10, 27), until: new Date(2026, 10, 28) });
  const { lines, stats } = await scan([f], { now, ...day });
  assert.deepEqual(lines.map((l) => l.queueId), ['AAAAAA0001', 'AAAAAA0002']);
  assert.equal(stats.outside, 2);
  assert.deepEqual(parseTimeOption('2026-11-27', now), new Date(2026, 10, 27));
  assert.deepEqual(parseTimeOption('2026-11-27T10:30', now), new Date(2026, 10, 27, 10, 30));
  assert.deepEqual(parseTimeOption('2026-11-27T10:30:00Z', now), new Date(Date.UTC(2026, 10, 27, 10, 30)));
  assert.deepEqual(parseTimeOption('-2h', now), new Date(2026, 10, 28, 10));
  assert.throws(() => parseTimeOption('yesterday-ish', now), /bad time "yesterday-ish"/);
  const r = await runCli(['logs', 'trace', 'AAAAAA0001', '--since', '2026-11-28', '--until', '2026-11-27', f]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /is not before --until/);
  const missing = await runCli(['logs', 'trace', 'AAAAAA0001', join(dir, 'no-such-file')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no-such-file/);
});

test('a 3 MiB "line" is one line not understood, and reading goes on after it', async () => {
  const f = join(dir, 'huge.log');
  writeFileSync(f, `Nov 27 10:00:00 mx postfix/qmgr[1]: AAAAAA0001: removed\n${'x'.repeat(3 << 20)}\nNov 27 10:00:01 mx postfix/qmgr[1]: AAAAAA0002: removed\n`);
  const { lines, stats } = await scan([f], { now: new Date(2026, 10, 28) });
  assert.deepEqual(lines.map((l) => l.queueId), ['AAAAAA0001', 'AAAAAA0002']);
  assert.equal(stats.unparsed, 1);
});
