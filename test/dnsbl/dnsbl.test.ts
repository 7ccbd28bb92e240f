/**
 * DNS lists in smtpd (engine/restrictions/dnsbl.ts) through the evaluator, against the real test
 * DNS server on loopback: listed / not listed / filtered, the default reply template and
 * rbl_reply_maps, the rhsbl family, allow lists, temporary failures (never a reject), and list
 * health (a refusing list rejects nothing; a dead list costs a session one timeout, then nothing).
 * Expected replies are Postfix 3.7's (smtpd_check.c rbl_reject_reply(), permit_dnswl_addr()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateRcpt } from '../../src/engine/index.js';
import type { ClientInfo, Decision, TransactionContext } from '../../src/engine/types.js';
import { healthFor } from '../../src/dnsbl/health.js';
import { parseFilter, matchFilter, splitListArg } from '../../src/dnsbl/filter.js';
import { classifyAnswer } from '../../src/dnsbl/codes.js';
import { reverseIp } from '../../src/dnsbl/query.js';
import { expandTemplate, parseExpansionFilter } from '../../src/dnsbl/template.js';
import { resolverFor } from '../../src/dns/index.js';
import { replyLine } from '../../src/smtp/reply.js';
import { startDnsServer, type TestDns, type ZoneRecord } from '../helpers/dns-server.js';
import { rcptContext, testConfig } from '../engine/config-helper.js';

const said = (d: Decision) => (d.reply ? replyLine(d.reply) : d.action);
const warnings = (d: Decision) => d.events.filter((e) => e.action === 'warning').map((e) => e.text);
type T = { after(fn: () => unknown): void };

const A = (name: string, data: string): ZoneRecord => ({ name, type: 'A', data });
const TXT = (name: string, data: string): ZoneRecord => ({ name, type: 'TXT', data });

const ZONE: ZoneRecord[] = [
  // bl.test: an IP list. 127.0.0.9 listed with a reason, .10 listed without, .11 with 127.0.0.4.
  A('9.0.0.127.bl.test', '127.0.0.2'), TXT('9.0.0.127.bl.test', 'Listed for spam, see http://bl.test/?127.0.0.9'),
  A('10.0.0.127.bl.test', '127.0.0.3'),
  A('11.0.0.127.bl.test', '127.0.0.4'),
  A('2.0.0.127.bl.test', '127.0.0.2'),
  // dbl.test: a domain list.
  A('bad.test.dbl.test', '127.0.1.2'), TXT('bad.test.dbl.test', 'spam domain'),
  A('helo.bad.test.dbl.test', '127.0.1.2'),
  A('client.bad.test.dbl.test', '127.0.1.2'),
  A('test.dbl.test', '127.0.1.2'),
  // wl.test: an allow list with 127.0.0.9.
  A('9.0.0.127.wl.test', '127.0.2.3'),
  // The refusal codes are per operator zone: a list below spamhaus.org that answers 127.255.255.254.
  A('9.0.0.127.zen.spamhaus.org', '127.255.255.254'),
  A('2.0.0.127.zen.spamhaus.org', '127.255.255.254'),
  A('1.0.0.127.zen.spamhaus.org', '127.255.255.254'),
  // rewrite.test: a resolver that rewrites NXDOMAIN to a web server.
  A('9.0.0.127.rewrite.test', '192.0.2.80'),
  // all.test: lists everything, even the test point 127.0.0.1 (the seeds/001 §11 dead list).
  A('9.0.0.127.all.test', '127.0.0.2'), A('2.0.0.127.all.test', '127.0.0.2'), A('1.0.0.127.all.test', '127.0.0.2'),
];

async function zone(t: T): Promise<{ dns: TestDns; settings: Record<string, string> }> {
  const dns = await startDnsServer(t, { records: ZONE });
  return {
    dns,
    settings: {
      mxguard_dns_servers: dns.server, mxguard_dns_timeout: '0.6s', mxguard_dns_attempt_timeout: '0.3s',
      mxguard_dns_temporary_cache_ttl: '0', mydestination: '$myhostname, example.test',
      smtpd_relay_restrictions: '',
    },
  };
}

const CLIENT9: ClientInfo = { address: '127.0.0.9', port: 40000, name: 'client.bad.test', reverseName: 'client.bad.test' };

async function rcpt(settings: Record<string, string>, over: Partial<TransactionContext> = {}): Promise<Decision> {
  const cfg = testConfig(settings);
  return evaluateRcpt(rcptContext(cfg, over.recipient ?? 'alice@example.test', { client: { ...CLIENT9 }, ...over }));
}

test('filter syntax: ip_match numbers, [a;b..c] sets, and errors', () => {
  const f = parseFilter('127.0.[0..255].[2;4;10..20]');
  assert.ok(matchFilter(f, '127.0.5.4'));
  assert.ok(matchFilter(f, '127.0.0.15'));
  assert.ok(!matchFilter(f, '127.0.0.3'));
  assert.ok(!matchFilter(f, '127.1.0.2'));
  assert.deepEqual(splitListArg('zen.spamhaus.org=127.0.0.[2..11]').domain, 'zen.spamhaus.org');
  assert.ok(matchFilter(splitListArg('zen.spamhaus.org=127.0.0.[2..11]').filter!, '127.0.0.11'));
  assert.throws(() => parseFilter('127.0.0.[2,3]'));
  assert.throws(() => parseFilter('127.0.0'));
  assert.throws(() => parseFilter('127.0.0.256'));
  assert.throws(() => parseFilter('127.0.0.[5..2]'));
});

test('query names: reversed IPv4 octets, 32 reversed IPv6 nibbles', () => {
  assert.equal(reverseIp('192.0.2.1'), '1.2.0.192');
  assert.equal(reverseIp('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(reverseIp('::ffff:192.0.2.1'), '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0');
  assert.equal(reverseIp('unknown'), undefined);
});

test('answers that are not listings: refusal codes, outside 127/8, 127.0.0.1', () => {
  assert.equal(classifyAnswer('zen.spamhaus.org', ['127.255.255.254']).kind, 'refused');
  assert.equal(classifyAnswer('zen.spamhaus.org', ['127.255.255.252']).kind, 'refused');
  assert.equal(classifyAnswer('multi.uribl.com', ['127.0.0.1']).kind, 'refused');
  assert.equal(classifyAnswer('list.dnswl.org', ['127.0.0.255']).kind, 'refused');
  assert.equal(classifyAnswer('other.test', ['127.255.255.255']).kind, 'refused');
  assert.equal(classifyAnswer('other.test', ['192.0.2.1']).kind, 'refused');
  assert.equal(classifyAnswer('zen.spamhaus.org', ['127.0.0.2', '127.0.0.4']).kind, 'usable');
  assert.equal(classifyAnswer('list.dnswl.org', ['127.0.10.3']).kind, 'usable');
});

test('templates: $name, ${name}, conditionals, the expansion filter, unknown names', () => {
  const vals: Record<string, string> = { a: 'x', e: '', bad: 'tab\there' };
  const allow = parseExpansionFilter('\\40abcdefghijklmnopqrstuvwxyz');
  const ex = (s: string) => expandTemplate(s, (n) => vals[n], allow);
  assert.equal(ex('$a ${a}$(a) $$'), 'x xx $');
  assert.equal(ex('[${a?; $a}][${e?; $e}][${e:none}][${a:none}]'), '[; x][][none][]');
  assert.equal(ex('${a?{yes}:{no}} ${e?{yes}:{no}}'), 'yes no');
  assert.equal(ex('$bad'), 'tab_here');
  assert.throws(() => ex('$nosuch'));
});

test('reject_rbl_client: a listed client gets the default template, with the TXT record as reason', async (t) => {
  const { settings } = await zone(t);
  const d = await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rbl_client bl.test' });
  assert.equal(said(d), '554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using bl.test; Listed for spam, see http://bl.test/?127.0.0.9');
  // Without TXT, ${rbl_reason?…} adds nothing; maps_rbl_reject_code is $rbl_code.
  const d2 = await rcpt({ ...settings, maps_rbl_reject_code: '550', smtpd_client_restrictions: 'reject_rbl bl.test' }, { client: { ...CLIENT9, address: '127.0.0.10' } });
  assert.equal(said(d2), '550 5.7.1 Service unavailable; Client host [127.0.0.10] blocked using bl.test');
  // Not listed: nothing.
  const d3 = await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rbl_client bl.test' }, { client: { ...CLIENT9, address: '127.0.0.20' } });
  assert.equal(said(d3), 'accept');
});

test('reject_rbl_client with a filter: only matching answers count; $rbl_domain has no filter', async (t) => {
  const { settings } = await zone(t);
  const list = { ...settings, smtpd_client_restrictions: 'reject_rbl_client bl.test=127.0.0.[2..3]' };
  assert.equal(said(await rcpt(list, { client: { ...CLIENT9, address: '127.0.0.11' } })), 'accept');  // 127.0.0.4
  assert.equal(said(await rcpt(list, { client: { ...CLIENT9, address: '127.0.0.10' } })), '554 5.7.1 Service unavailable; Client host [127.0.0.10] blocked using bl.test');
  const d = await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rbl_client bl.test=127.0.0.[2..3], permit' }, { client: { ...CLIENT9, address: '127.0.0.11' } });
  assert.equal(d.trace.find((s) => s.restriction === 'reject_rbl_client')?.outcome.note, '11.0.0.127.bl.test: 127.0.0.4 does not match filter 127.0.0.[2..3]');
});

test('rbl_reply_maps: the template of the argument as written; a bad one falls back with a warning', async (t) => {
  const { settings } = await zone(t);
  const dir = mkdtempSync(join(tmpdir(), 'mxg-rbl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'rbl_reply'), [
    'bl.test $rbl_code 5.7.1 <$client_address> ($client_name) refused: $rbl_what is listed at $rbl_domain${rbl_reason?: $rbl_reason} [helo $helo_name, from <$sender>, to <$recipient_domain>]',
    'bl.test=127.0.0.[2..3] 451 4.7.1 Try later: $rbl_class $rbl_what at $rbl_domain',
    'dbl.test $nonesuch',
    'short.test 550',
  ].join('\n') + '\n');
  const s = { ...settings, rbl_reply_maps: `texthash:${join(dir, 'rbl_reply')}` };
  let d = await rcpt({ ...s, smtpd_client_restrictions: 'reject_rbl_client bl.test' });
  assert.equal(said(d), '554 5.7.1 <127.0.0.9> (client.bad.test) refused: 127.0.0.9 is listed at bl.test: Listed for spam, see http://bl.test/?127.0.0.9 [helo client.remote.test, from <sender@remote.test>, to <example.test>]');
  d = await rcpt({ ...s, smtpd_client_restrictions: 'reject_rbl_client bl.test=127.0.0.[2..3]' });
  assert.equal(said(d), '451 4.7.1 Try later: Client host 127.0.0.9 at bl.test');
  d = await rcpt({ ...s, smtpd_sender_restrictions: 'reject_rhsbl_sender dbl.test' }, { sender: 'spammer@bad.test' });
  assert.equal(said(d), '554 5.7.1 Service unavailable; Sender address [spammer@bad.test] blocked using dbl.test; spam domain');
  assert.deepEqual(warnings(d), ['rbl_reject_reply: bad rbl reply template for domain dbl.test: $nonesuch']);
});

test('a template without "NNN " gives 450 4.7.1 Service unavailable and a warning', async (t) => {
  const { settings } = await zone(t);
  const d = await rcpt({ ...settings, default_rbl_reply: 'go away', smtpd_client_restrictions: 'reject_rbl_client bl.test' });
  assert.equal(said(d), '450 4.7.1 Service unavailable');
  assert.deepEqual(warnings(d), ['rbl response code configuration error: go away']);
});

test('reject_rhsbl_*: client name, reverse name, HELO, sender and recipient domains, with their classes', async (t) => {
  const { settings } = await zone(t);
  assert.equal(said(await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rhsbl_client dbl.test' })),
    '554 5.7.1 Service unavailable; Client host [client.bad.test] blocked using dbl.test');
  assert.equal(said(await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rhsbl_reverse_client dbl.test' })),
    '554 5.7.1 Service unavailable; Unverified Client host [client.bad.test] blocked using dbl.test');
  assert.equal(said(await rcpt({ ...settings, smtpd_helo_restrictions: 'reject_rhsbl_helo dbl.test' }, { helo: 'helo.bad.test' })),
    '554 5.7.1 Service unavailable; Helo command [helo.bad.test] blocked using dbl.test');
  assert.equal(said(await rcpt({ ...settings, smtpd_recipient_restrictions: 'reject_rhsbl_recipient dbl.test, permit' }, { recipient: 'victim@bad.test' })),
    '554 5.7.1 Service unavailable; Recipient address [victim@bad.test] blocked using dbl.test; spam domain');
  // Skipped: the null sender, an address literal, a name ending in a numeric label, an unknown client.
  for (const sender of ['', 'a@[192.0.2.1]', 'a@host.123']) {
    assert.equal(said(await rcpt({ ...settings, smtpd_sender_restrictions: 'reject_rhsbl_sender dbl.test' }, { sender })), 'accept', sender);
  }
  assert.equal(said(await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rhsbl_client dbl.test' }, { client: { ...CLIENT9, name: 'unknown' } })), 'accept');
});

test('a temporary failure never rejects: a warning, and the next restriction decides', async (t) => {
  const { dns, settings } = await zone(t);
  dns.setBehaviour('bl.test', 'servfail');
  const d = await rcpt({ ...settings, smtpd_client_restrictions: 'reject_rbl_client bl.test' });
  assert.equal(said(d), 'accept');
  assert.deepEqual(warnings(d), ['9.0.0.127.bl.test: RBL lookup error: Host or domain name not found. Name service error for name=9.0.0.127.bl.test type=A: Host not found, try again']);
});

test('permit_dnswl_client: a listed client is permitted; a failed lookup defers a later 5xx (450 4.7.1)', async (t) => {
  const { dns, settings } = await zone(t);
  const list = { ...settings, smtpd_client_restrictions: 'permit_dnswl_client wl.test, reject_rbl_client bl.test' };
  assert.equal(said(await rcpt(list)), 'accept');
  dns.setBehaviour('wl.test', 'servfail');
  // 127.0.0.10 is in bl.test; wl.test cannot be asked: the 554 becomes the remembered 450.
  const d = await rcpt(list, { client: { ...CLIENT9, address: '127.0.0.10' } });
  assert.equal(said(d), '450 4.7.1 <127.0.0.10>: Client host rejected: Service unavailable');
  assert.equal(said(await rcpt({ ...settings, smtpd_client_restrictions: 'permit_dnswl_client wl.test' }, { client: { ...CLIENT9, address: '127.0.0.12' } })), 'accept');
  // At RCPT TO, an allow list never opens a relay.
  const relay = await rcpt({ ...settings, smtpd_recipient_restrictions: 'permit_dnswl_client wl.test, reject_unauth_destination' }, { recipient: 'x@elsewhere.test' });
  assert.equal(said(relay), '554 5.7.1 <x@elsewhere.test>: Relay access denied');
});

test('reject_maps_rbl: each of $maps_rbl_domains, with the deprecation warning once per process', async (t) => {
  const { settings } = await zone(t);
  const d = await rcpt({ ...settings, maps_rbl_domains: 'nothing.test, bl.test', smtpd_client_restrictions: 'reject_maps_rbl' });
  assert.equal(said(d), '554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using bl.test; Listed for spam, see http://bl.test/?127.0.0.9');
  assert.deepEqual(warnings(d), ['support for restriction "reject_maps_rbl" will be removed from Postfix; use "reject_rbl_client domain-name" instead']);
});

test('a list that answers 127.255.255.254 to everything rejects nothing and is refusing', async (t) => {
  const { settings } = await zone(t);
  const cfg = testConfig({ ...settings, smtpd_client_restrictions: 'reject_rbl_client zen.spamhaus.org' });
  const d = await evaluateRcpt(rcptContext(cfg, 'alice@example.test', { client: { ...CLIENT9 } }));
  assert.equal(said(d), 'accept');
  assert.match(warnings(d)[0] ?? '', /^dnsbl zen\.spamhaus\.org: refusing: answer 127\.255\.255\.254: Spamhaus: query via a public\/open resolver \(query 9\.0\.0\.127\.zen\.spamhaus\.org\); not used for 60s/);
  const h = healthFor(cfg, resolverFor(cfg)).get('zen.spamhaus.org')!;
  assert.equal(h.state, 'refusing');
  assert.equal(h.listed, 0);
  // A later session does not ask it again during the back-off.
  const d2 = await evaluateRcpt(rcptContext(cfg, 'alice@example.test', { client: { ...CLIENT9, port: 40001 } }));
  assert.equal(said(d2), 'accept');
  assert.match(d2.trace.find((s) => s.restriction === 'reject_rbl_client')!.outcome.note, /not asked: zen\.spamhaus\.org is refusing/);
});

test('answers outside 127/8 (NXDOMAIN rewriting) and a list that lists 127.0.0.1 are not used', async (t) => {
  const { settings } = await zone(t);
  const cfg = testConfig({ ...settings, smtpd_client_restrictions: 'reject_rbl_client rewrite.test' });
  assert.equal(said(await evaluateRcpt(rcptContext(cfg, 'a@example.test', { client: { ...CLIENT9 } }))), 'accept');
  assert.equal(healthFor(cfg, resolverFor(cfg)).get('rewrite.test')!.state, 'refusing');
  // all.test answers a real-looking listing; only its canary shows it lists everything.
  const reg = healthFor(cfg, resolverFor(cfg));
  reg.watch('all.test', 'ip');
  assert.equal(await reg.canary('all.test'), 'refusing');
  assert.match(reg.get('all.test')!.reason, /lists everything: the test point 1\.0\.0\.127\.all\.test that must not be listed answered 127\.0\.0\.2/);
  reg.watch('bl.test', 'ip');
  assert.equal(await reg.canary('bl.test'), 'healthy');
});

test('a list that stops answering costs a session at most one timeout, then nothing while degraded', async (t) => {
  const { dns, settings } = await zone(t);
  dns.setBehaviour('bl.test', 'timeout');
  const cfg = testConfig({ ...settings, smtpd_client_restrictions: 'reject_rbl_client bl.test' });
  const asked = () => dns.queries().filter((q) => q.name.endsWith('bl.test')).length;
  const session = async (port: number, rcpts: number) => {
    const client = { ...CLIENT9, port };          // one ClientInfo object per session, as smtp/session
    for (let i = 0; i < rcpts; i++) assert.equal(said(await evaluateRcpt(rcptContext(cfg, `r${i}@example.test`, { client }))), 'accept');
  };
  await session(1, 3);
  const first = asked();
  assert.ok(first >= 1, 'the first session asked the list');
  // Its second and third RCPT TO did not ask again: one lookup's worth of queries (the resolver's retries).
  await session(2, 3);
  const second = asked() - first;
  assert.equal(second, first, 'the second session paid one lookup, no more');
  const h = healthFor(cfg, resolverFor(cfg)).get('bl.test')!;
  assert.equal(h.state, 'degraded');
  assert.equal(h.failures, 2);
  const before = asked();
  for (let p = 3; p < 8; p++) await session(p, 2);
  assert.equal(asked(), before, 'no query at all while degraded');
  // 2 + 2 repeated RCPT TO of the first two sessions (failed earlier in the session), 10 while degraded.
  assert.equal(h.skipped, 14);
});

test('a degraded list comes back after its back-off when its test points answer', async (t) => {
  const { dns, settings } = await zone(t);
  dns.setBehaviour('bl.test', 'servfail');
  const cfg = testConfig({ ...settings, mxguard_dnsbl_failure_limit: '1', mxguard_dnsbl_retry_time: '1s', smtpd_client_restrictions: 'reject_rbl_client bl.test' });
  const reg = healthFor(cfg, resolverFor(cfg));
  assert.equal(said(await rcpt({ ...cfg.explicitNames().reduce((o, n) => ({ ...o, [n]: cfg.raw(n)! }), {}) })), 'accept');
  assert.equal(reg.get('bl.test')!.state, 'degraded');
  dns.setBehaviour('bl.test', undefined);
  await new Promise((r) => setTimeout(r, 1100));
  // The first query after the back-off starts the canary and is itself skipped.
  const d = await evaluateRcpt(rcptContext(cfg, 'a@example.test', { client: { ...CLIENT9 } }));
  assert.equal(said(d), 'accept');
  for (let i = 0; i < 50 && reg.get('bl.test')!.state !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(reg.get('bl.test')!.state, 'healthy');
  assert.ok(dns.queries().some((q) => q.name === '2.0.0.127.bl.test') && dns.queries().some((q) => q.name === '1.0.0.127.bl.test'));
  const d2 = await evaluateRcpt(rcptContext(cfg, 'a@example.test', { client: { ...CLIENT9, port: 2 } }));
  assert.equal(said(d2), '554 5.7.1 Service unavailable; Client host [127.0.0.9] blocked using bl.test; Listed for spam, see http://bl.test/?127.0.0.9');
});
