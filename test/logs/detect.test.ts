/**
 * @module test/logs/detect
 * `mxguard logs detect` on the seed logs (002: a stolen SASL login; 003: a web script mailing
 * through pickup; 004: an AUTH flood and a client that ignores 5xx), on synthetic logs for each
 * other detector, on clean logs (no false positives), with changed thresholds, and the three ban
 * output forms through the command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { detect, detectOptions, type Finding, type ThresholdFlags } from '../../src/logs/detect/index.js';
import { looksGenerated } from '../../src/logs/detect/accounts.js';
import { LruMap, RateRing, RecentSet } from '../../src/logs/detect/bounded.js';
import { normaliseReason } from '../../src/logs/detect/rejects.js';
import { parseReject } from '../../src/logs/detect/lines.js';
import { repoRoot, runCli } from '../helpers/run-cli.js';

const fx = (name: string): string => join(repoRoot, 'test/fixtures/logs', name);
const SEED2 = fx('seed-002-maillog.txt');
const SEED3 = fx('seed-003-maillog.txt');
const SEED4 = fx('seed-004-maillog.txt');

async function findings(files: string[], flags: ThresholdFlags = {}): Promise<Finding[]> {
  return (await detect({ files, progress: false }, detectOptions(flags))).findings;
}

const one = (fs: Finding[], kind: string, subject?: string): Finding => {
  const f = fs.find((x) => x.kind === kind && (subject === undefined || x.subject === subject));
  assert.ok(f, `no ${kind} ${subject ?? ''} finding in: ${fs.map((x) => x.id).join(', ')}`);
  return f;
};

test('seed 002: the SASL account user@my-domain.net is used by spam software from 201.91.101.26', async () => {
  const fs = await findings([SEED2]);
  assert.deepEqual(fs.map((f) => f.kind), ['account-abuse']);
  const f = one(fs, 'account-abuse', 'user@my-domain.net');
  assert.equal(f.severity, 'high');
  assert.deepEqual(f.addresses, ['201.91.101.26']);
  assert.match(f.summary, /201\.91\.101\.26/);
  assert.match(f.summary, /tdatabrasil\.net\.br/);
  assert.match(f.summary, /EHZDDZCUEY0FN7B75U0HKZOH1JP2P2UI/);
  assert.match(f.summary, /password/);
  assert.match(f.summary, /stolen/);
  assert.match(f.summary, /yahoo\.com\.br/);
  const rec = f.recommendation.join('\n');
  assert.match(rec, /Reset the password of user@my-domain\.net/);
  assert.match(rec, /smtpd_sender_login_maps/);
  assert.match(rec, /reject_sender_login_mismatch/);
  assert.match(rec, /mxguard_rate_limits = sasl_username/);
  assert.ok(f.evidence.some((e) => e.text.includes('sasl_username=user@my-domain.net')));
  assert.ok(f.evidence.some((e) => e.text.includes('helo=<EHZDDZCUEY0FN7B75U0HKZOH1JP2P2UI>')));
  assert.ok(f.evidence.every((e) => e.file === SEED2 && e.line > 0));
  assert.deepEqual(f.details['signals'], ['generated-helo']);
});

test('seed 003: a web script (uid 33, www-data) sends mail through pickup, one of it to a@a', async () => {
  const fs = await findings([SEED3]);
  assert.deepEqual(fs.map((f) => f.kind), ['web-script']);
  const f = one(fs, 'web-script');
  assert.equal(f.subject, 'uid 33 (www-data)');
  assert.equal(f.severity, 'high');
  assert.match(f.title, /web script/);
  assert.match(f.summary, /2 messages/);
  assert.match(f.summary, /hotmail\.com/);
  assert.match(f.summary, /bounced/);
  assert.match(f.summary, /PHP mail\(\)/);
  const rec = f.recommendation.join('\n');
  assert.match(rec, /authorized_submit_users = !www-data, static:all/);
  assert.match(rec, /mail\.add_x_header = On/);
  assert.match(rec, /disable_functions = mail/);
  assert.deepEqual(f.addresses, [], 'a local script has no address to ban');
  assert.ok(f.evidence.some((e) => e.text.includes('uid=33 from=<www-data>')));
  assert.ok(f.evidence.some((e) => e.text.includes('to=<a@a>') && e.text.includes('status=bounced')));
});

test('seed 004: the AUTH flood from 8 addresses (180.120.0.0/16 twice) and 185.191.228.36 ignoring its HELO rejects', async () => {
  const fs = await findings([SEED4]);
  assert.deepEqual(fs.map((f) => f.kind).sort(), ['auth-flood', 'repeat-rejects']);
  const flood = one(fs, 'auth-flood');
  const ips = ['117.86.35.119', '114.232.141.99', '180.120.191.91', '49.67.68.34', '180.120.192.199', '121.226.62.16', '58.221.55.21', '121.232.65.223'];
  assert.deepEqual([...flood.addresses].sort(), [...ips].sort());
  assert.match(flood.subject, /^180\.120\.0\.0\/16/);
  const nets = flood.details['networks'] as Array<{ network: string; addresses: number }>;
  assert.deepEqual(nets[0], { network: '180.120.0.0/16', addresses: 2 });
  assert.equal(nets.length, 7);
  assert.equal(flood.details['count'], 8);
  assert.match(flood.summary, /8 sessions from 8 addresses in 7 networks/);
  assert.match(flood.summary, /port 25/);
  const rec = flood.recommendation.join('\n');
  assert.match(rec, /smtpd_sasl_auth_enable=no/);
  assert.match(rec, /postfix\[mode=aggressive\]/);
  assert.ok(flood.evidence.some((e) => e.text.includes('lost connection after AUTH from unknown[114.232.141.99]')));

  const rej = one(fs, 'repeat-rejects', '185.191.228.36');
  assert.deepEqual(rej.addresses, ['185.191.228.36']);
  assert.equal(rej.details['sessions'], 6);
  assert.equal(rej.details['senders'], 6);
  assert.deepEqual(rej.details['reasons'], [{ reason: 'Helo command rejected: need fully-qualified hostname', count: 6 }]);
  assert.match(rej.summary, /6 sessions/);
  assert.match(rej.summary, /martinlujan997@gmail\.com/);
  assert.match(rej.recommendation.join('\n'), /mxguard_ban_rejects/);
  assert.match(rej.recommendation.join('\n'), /\[postfix\]/);
  assert.ok(rej.evidence.length >= 4 && rej.evidence.length <= 6);
  assert.ok(rej.evidence[0]!.text.includes('from=<123123@linuxbabe.com>'), 'the evidence starts with the first reject');
  // Each flood address tried once: no per-address brute-force finding.
  assert.equal(fs.filter((f) => f.kind === 'auth-brute-force').length, 0);
});

test('clean logs: no findings (synthetic office traffic; seed 000 has no account or pickup finding)', async () => {
  assert.deepEqual(await findings([fx('detect-clean.txt')]), []);
  const fs = await findings([join(repoRoot, 'test/fixtures/seed-000-maillog.txt')]);
  assert.deepEqual(fs.filter((f) => ['account-abuse', 'web-script', 'pickup-flood'].includes(f.kind)), []);
});

test('accounts: used from seven networks (bob: home and six others) and far above its usual rate (carol); alice is fine', async () => {
  const fs = await findings([fx('detect-accounts.txt')]);
  assert.deepEqual(fs.map((f) => f.subject).sort(), ['bob@example.org', 'carol@example.org']);
  const bob = one(fs, 'account-abuse', 'bob@example.org');
  assert.deepEqual(bob.details['signals'], ['many-networks']);
  assert.equal(bob.details['networks'], 7);
  for (const ip of ['45.13.104.17', '91.240.118.3', '185.220.101.9', '103.77.192.5', '41.216.188.60', '177.54.150.2']) assert.ok(bob.addresses.includes(ip), ip);
  const carol = one(fs, 'account-abuse', 'carol@example.org');
  assert.deepEqual(carol.details['signals'], ['rate']);
  assert.match(carol.summary, /80 messages in the hour/);
  assert.match(carol.summary, /usual 3 per hour/);
});

test('thresholds change results: accounts, pickup, AUTH flood, rejects', async () => {
  const accounts = await findings([fx('detect-accounts.txt')], { accountNetworks: 8, accountRate: 100 });
  assert.deepEqual(accounts, []);
  const accounts2 = await findings([fx('detect-accounts.txt')], { accountNetworks: 8, accountIps: 5 });
  assert.deepEqual(accounts2.map((f) => f.subject).sort(), ['bob@example.org', 'carol@example.org']);
  assert.deepEqual(await findings([fx('detect-pickup.txt')], { pickupRate: '200/1h' }), []);
  assert.equal((await findings([fx('detect-pickup.txt')], { pickupRate: '20/10m' })).length, 1);
  const seed4 = await findings([SEED4], { authFlood: '10/1m', rejects: '7/1h' });
  assert.deepEqual(seed4, []);
  const seed4b = await findings([SEED4], { authFloodAddresses: 9 });
  assert.deepEqual(seed4b.map((f) => f.kind), ['repeat-rejects']);
  const seed3 = await findings([SEED3], { webUids: '48' });
  assert.equal(seed3.length, 1, 'from=<www-data> still names a web server user');
});

test('pickup: a local uid sending a flood to outside addresses; cron mail to root is not a finding', async () => {
  const fs = await findings([fx('detect-pickup.txt')]);
  assert.equal(fs.length, 1);
  const f = one(fs, 'pickup-flood', 'uid 1001 (deploy)');
  assert.equal(f.details['count'], 130);
  assert.equal(f.details['remoteMessages'], 130);
  assert.match(f.recommendation.join('\n'), /authorized_submit_users = !deploy, static:all/);
});

test('DNS list answering for everyone (Spamhaus via a public resolver) and one that stopped answering', async () => {
  const all = await findings([fx('detect-dnsbl-all.txt')]);
  assert.deepEqual(all.map((f) => f.id), ['dnsbl-answers-all:zen.spamhaus.org']);
  const f = all[0]!;
  assert.equal(f.details['goodListed'], 6);
  assert.equal(f.details['refusals'], 30);
  assert.match(f.summary, /127\.255\.255\.254/);
  assert.match(f.recommendation.join('\n'), /public resolver/);
  assert.match(f.recommendation.join('\n'), /zen\.spamhaus\.org=127\.0\.0\.\[2\.\.11\]/);

  const stopped = await findings([fx('detect-dnsbl-stopped.txt')]);
  assert.deepEqual(stopped.map((x) => x.id), ['dnsbl-stopped:bl.spamcop.net']);
  assert.match(stopped[0]!.summary, /listed 30 clients/);
  assert.ok(stopped[0]!.evidence.some((e) => e.text.includes('RBL lookup error')));
  assert.deepEqual(await findings([fx('detect-dnsbl-stopped.txt')], { dnsblSilence: 40, dnsblErrors: 10 }), []);
});

test('backscatter to forged senders, and a wave of incoming bounces; --local-domain', async () => {
  const fs = await findings([fx('detect-backscatter.txt')]);
  assert.deepEqual(fs.map((f) => f.kind).sort(), ['backscatter', 'null-sender-flood']);
  const b = one(fs, 'backscatter');
  assert.equal(b.details['count'], 45);
  assert.match(b.summary, /forged-a\.example/);
  assert.match(b.recommendation.join('\n'), /smtpd_reject_unlisted_recipient/);
  assert.equal(one(fs, 'null-sender-flood').details['count'], 110);
  const mine = await findings([fx('detect-backscatter.txt')], { localDomain: ['forged-a.example', 'forged-b.example', 'victim.example'] });
  assert.deepEqual(mine.map((f) => f.kind), ['null-sender-flood']);
});

test("mxguard's own lines: bans, ban refusals, rate limits, DNS list health; a private address is a finding but never banned", async () => {
  const fs = await findings([fx('detect-mxguard.txt')]);
  const byId = new Map(fs.map((f) => [f.id, f]));
  assert.ok(byId.has('auth-brute-force:203.0.113.9'));
  assert.ok(byId.has('auth-brute-force:2001:db8:5::9'));
  assert.deepEqual((byId.get('auth-brute-force:203.0.113.9')!.details['names'] as string[]).sort(), ['admin@example.org', 'info@example.org', 'test@example.org']);
  // mxguard logs every session under one pid; interleaved sessions are still told apart.
  assert.equal(byId.get('auth-brute-force:203.0.113.9')!.details['count'], 7);
  assert.equal(byId.get('auth-brute-force:2001:db8:5::9')!.details['count'], 5);
  assert.equal(byId.get('auth-brute-force:2001:db8:5::9')!.details['sessions'], 5);
  const lan = byId.get('auth-brute-force:10.20.0.15');
  assert.ok(lan);
  assert.equal(lan.details['count'], 6);
  assert.match(lan.summary, /internal address/);
  const banned = byId.get('repeat-rejects:203.0.113.9');
  assert.ok(banned);
  assert.equal(banned.details['banRefusals'], 6);
  assert.match(banned.recommendation.join('\n'), /mxguard bans export --nft/);
  const zen = byId.get('dnsbl-stopped:zen.spamhaus.org');
  assert.ok(zen);
  assert.match(zen.title, /refuses queries/);
  const dave = byId.get('account-abuse:dave@example.org');
  assert.ok(dave);
  assert.equal(dave.severity, 'medium');
});

test('bounded helpers: LRU cap, N-within-window ring, sliding distinct set; HELO and reason heuristics', () => {
  const evicted: string[] = [];
  const m = new LruMap<string, number>(4, (k) => evicted.push(k));
  m.set('a', 1); m.set('b', 2); m.touch('a'); m.set('c', 3);
  assert.deepEqual([...m.entries()].map(([k]) => k).sort(), ['a', 'c'], 'b was not used for a generation');
  assert.deepEqual(evicted, ['b']);
  assert.equal(m.evicted, 1);
  for (let i = 0; i < 100; i++) m.set(`k${i}`, i);
  assert.ok(m.size <= 4);

  const r = new RateRing(3);
  assert.equal(r.push(0, 10_000), false);
  assert.equal(r.push(5_000, 10_000), false);
  assert.equal(r.push(20_000, 10_000), false, '3 events in 20 s are not 3 within 10 s');
  assert.equal(r.push(21_000, 10_000), false);
  assert.equal(r.push(22_000, 10_000), true);

  const s = new RecentSet(60_000, 3);
  s.add('a', 0); s.add('b', 30_000); s.add('a', 50_000);
  assert.equal(s.size, 2);
  s.add('c', 100_000);
  assert.deepEqual(s.values(), ['a', 'c'], 'b was last seen more than a minute before');
  s.add('d', 101_000); s.add('e', 102_000);
  assert.equal(s.size, 3);

  assert.equal(looksGenerated('EHZDDZCUEY0FN7B75U0HKZOH1JP2P2UI'), true);
  for (const h of ['DESKTOP-1A2B3C4', 'mail.example.com', '[192.168.1.2]', 'localhost', 'JOHNSLAPTOP2019', 'User']) assert.equal(looksGenerated(h), false, h);

  assert.equal(normaliseReason('<WIN-123>: Helo command rejected: need fully-qualified hostname'), 'Helo command rejected: need fully-qualified hostname');
  assert.equal(normaliseReason('Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://x'), 'Client host blocked using zen.spamhaus.org');
  assert.equal(normaliseReason('Client host rejected: cannot find your hostname, [192.0.2.1]'), 'Client host rejected: cannot find your hostname');
  const pr = parseReject('NOQUEUE: reject: RCPT from [203.0.113.77]:5123: 550 5.7.1 Service unavailable; client [203.0.113.77] blocked using zen.spamhaus.org; from=<a@b.example>, to=<bob@example.org>, proto=ESMTP, helo=<x>', 17);
  assert.deepEqual(pr, { name: 'unknown', ip: '203.0.113.77', code: 550, reply: 'Service unavailable; client [203.0.113.77] blocked using zen.spamhaus.org', sender: 'a@b.example', recipient: 'bob@example.org', helo: 'x' });
});

test('CLI: text findings, exit 1 when something was found and 0 when not, 2 when it cannot run', async () => {
  const r = await runCli(['logs', 'detect', SEED4]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^mxguard logs detect: 2 findings \(2 medium\) in 53 lines/);
  assert.match(r.stdout, /\[MEDIUM\] auth-flood: 180\.120\.0\.0\/16/);
  assert.match(r.stdout, /\[MEDIUM\] repeat-rejects: 185\.191\.228\.36/);
  assert.match(r.stdout, /  Evidence:\n    .*seed-004-maillog\.txt:\d+: Dec 14/);
  assert.match(r.stdout, /  What to do:\n    - /);
  assert.match(r.stdout, /  Addresses: .*49\.67\.68\.34/);
  assert.match(r.stderr, /not understood/, 'the fixture header comments are counted');

  const clean = await runCli(['logs', 'detect', fx('detect-clean.txt')]);
  assert.equal(clean.code, 0);
  assert.match(clean.stdout, /no findings in 3\d\d lines/);

  const missing = await runCli(['logs', 'detect', '/nonexistent/mail.log']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /ENOENT|no such file/i);
  const bad = await runCli(['logs', 'detect', '--rejects', 'often', SEED4]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--rejects often: expected COUNT\/DURATION/);
});

test('CLI: --json, standard input (also gzip), thresholds as options, --limit', async () => {
  const j = await runCli(['logs', 'detect', '--json', SEED2]);
  assert.equal(j.code, 1);
  const arr = JSON.parse(j.stdout) as Finding[];
  assert.equal(arr.length, 1);
  assert.equal(arr[0]!.subject, 'user@my-domain.net');
  assert.ok(Array.isArray(arr[0]!.evidence) && typeof arr[0]!.evidence[0]!.line === 'number');

  const text = readFileSync(SEED3, 'utf8');
  const stdin = await runCli(['logs', 'detect', '--json'], { input: text });
  assert.equal((JSON.parse(stdin.stdout) as Finding[])[0]!.kind, 'web-script');
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-detect-'));
  const gz = join(dir, 'maillog.1.gz');
  writeFileSync(gz, gzipSync(readFileSync(SEED4)));
  const g = await runCli(['logs', 'detect', '--json', gz]);
  assert.equal((JSON.parse(g.stdout) as Finding[]).length, 2);

  const t = await runCli(['logs', 'detect', '--auth-flood', '20/1m', '--rejects', '10/1h', SEED4]);
  assert.equal(t.code, 0);

  const lim = await runCli(['logs', 'detect', '--limit', '1', '--auth-failures', '1/1h', SEED4]);
  assert.match(lim.stdout, /… and 7 more auth-brute-force findings/);
});

const NFT_ELEMENT = /^add element inet mxguard (mxguard_detect6?) \{ (\S+)( timeout \d+s)? \} # [a-z, -]+$/;

test('CLI: --ban-output nftables on standard output (findings go to standard error); IPv4/IPv6 sets; private and --exclude left out', async () => {
  const r = await runCli(['logs', 'detect', '--ban-output', 'nftables', SEED4, fx('detect-mxguard.txt')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\[MEDIUM\] auth-flood/);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines[0], '#!/usr/sbin/nft -f');
  assert.ok(lines.includes('add table inet mxguard'));
  assert.ok(lines.includes('add set inet mxguard mxguard_detect { type ipv4_addr; flags timeout; }'));
  assert.ok(lines.includes('add set inet mxguard mxguard_detect6 { type ipv6_addr; flags timeout; }'));
  const elements = lines.filter((l) => l.startsWith('add element'));
  for (const l of elements) assert.match(l, NFT_ELEMENT);
  const bySet = new Map(elements.map((l) => { const m = NFT_ELEMENT.exec(l)!; return [m[2]!, m[1]!]; }));
  assert.equal(bySet.get('185.191.228.36'), 'mxguard_detect');
  assert.equal(bySet.get('2001:db8:5::9'), 'mxguard_detect6');
  assert.equal(bySet.get('180.120.191.91'), 'mxguard_detect');
  assert.equal(bySet.has('10.20.0.15'), false, 'a private address is not banned');
  assert.equal(bySet.size, 11);
  assert.ok(elements.every((l) => l.includes(' timeout 86400s ')));

  // --exclude, --ban-private, --ban-time 0, names.
  const x = await runCli(['logs', 'detect', '--ban-output', 'nftables', '--exclude', '180.120.0.0/16', '--exclude', '2001:db8::/32', '--ban-private', '--ban-time', '0', '--ban-set', 'spam', '--ban-table', 'filter2', SEED4, fx('detect-mxguard.txt')]);
  assert.ok(x.stdout.includes('add set inet filter2 spam { type ipv4_addr; }'));
  assert.ok(x.stdout.includes('add element inet filter2 spam { 10.20.0.15 } # auth-brute-force'));
  assert.ok(!x.stdout.includes('180.120.'));
  assert.ok(!x.stdout.includes('2001:db8:5::9'));

  // Validate the script offline when nft can check it here (check mode changes nothing).
  const probe = spawnSync('nft', ['-c', '-f', '-'], { input: 'add table inet mxguard_probe\n', encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) {
    const check = spawnSync('nft', ['-c', '-f', '-'], { input: r.stdout, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  }
});

test('CLI: --ban-output fail2ban and json, --ban-file keeps the findings on standard output', async () => {
  const f = await runCli(['logs', 'detect', '--ban-output', 'fail2ban', '--ban-jail', 'postfix-flood-attack', SEED4]);
  const cmds = f.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(cmds.map((l) => l.replace(/ banip .*/, ' banip')), ['fail2ban-client set postfix-flood-attack banip', 'fail2ban-client set postfix-flood-attack banip']);
  assert.ok(cmds[0]!.endsWith('banip 49.67.68.34 58.221.55.21 114.232.141.99 117.86.35.119 121.226.62.16 121.232.65.223 180.120.191.91 180.120.192.199'));
  assert.equal(cmds[1], 'fail2ban-client set postfix-flood-attack banip 185.191.228.36');
  assert.equal(f.stdout.split('\n')[0], '#!/bin/sh');
  assert.equal(spawnSync('sh', ['-n'], { input: f.stdout }).status, 0, 'the script is valid sh');

  const dir = mkdtempSync(join(tmpdir(), 'mxguard-detect-'));
  const file = join(dir, 'bans.json');
  const j = await runCli(['logs', 'detect', '--ban-output', 'json', '--ban-file', file, SEED2, SEED4]);
  assert.equal(j.code, 1);
  assert.match(j.stdout, /\[HIGH\] account-abuse: user@my-domain\.net/);
  const bans = JSON.parse(readFileSync(file, 'utf8')) as Array<{ address: string; reason: string; findings: string[] }>;
  assert.equal(bans.length, 10);
  const stolen = bans.find((b) => b.address === '201.91.101.26');
  assert.deepEqual(stolen, { address: '201.91.101.26', reason: 'SASL account user@my-domain.net used by spam software', findings: ['account-abuse:user@my-domain.net'] });
  assert.deepEqual(bans.find((b) => b.address === '185.191.228.36')?.findings, ['repeat-rejects:185.191.228.36']);
  assert.deepEqual(bans.find((b) => b.address === '49.67.68.34')?.findings, ['auth-flood']);
});
