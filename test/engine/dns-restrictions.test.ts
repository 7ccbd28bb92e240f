/**
 * The DNS-based restrictions that are not DNS lists (engine/restrictions/dns-checks.ts and
 * server-access.ts), through the evaluator, against a real DNS server on loopback
 * (test/helpers/dns-server.ts): each restriction's reject, accept and temporary-failure paths,
 * null MX, and the cases of the seeds (a bare-IP HELO, a hostless client, an unresolvable
 * sender domain, the `ip-172-30-0-149.ec2.internal` HELO of seeds/004). Expected replies are
 * Postfix 3.7's (strings of its smtpd binary, smtpd_check.c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateList, evaluateRcpt } from '../../src/engine/index.js';
import type { ClientInfo, Decision, Stage, TransactionContext } from '../../src/engine/types.js';
import { replyLine } from '../../src/smtp/reply.js';
import { startDnsServer, type Behaviour, type TestDns, type ZoneRecord } from '../helpers/dns-server.js';
import { rcptContext, testConfig } from './config-helper.js';

const said = (d: Decision) => (d.reply ? replyLine(d.reply) : d.action);
const warnings = (d: Decision) => d.events.filter((e) => e.action === 'warning').map((e) => e.text);

const ZONE: ZoneRecord[] = [
  { name: 'dns.test', type: 'SOA', data: 'ns.dns.test hostmaster.dns.test 1 3600 600 86400 30' },
  { name: 'dns.test', type: 'NS', data: 'ns.dns.test' },
  { name: 'ns.dns.test', type: 'A', data: '192.0.2.53' },
  { name: 'mta.dns.test', type: 'A', data: '192.0.2.60' },
  { name: 'mxonly.dns.test', type: 'MX', data: '10 mta.dns.test' },
  { name: 'aonly.dns.test', type: 'A', data: '192.0.2.61' },
  { name: 'v6only.dns.test', type: 'AAAA', data: '2001:db8::61' },
  { name: 'nullmx.dns.test', type: 'MX', data: '0 .' },
  { name: 'txtonly.dns.test', type: 'TXT', data: 'v=spf1 -all' },
  { name: 'cname.dns.test', type: 'CNAME', data: 'mta.dns.test' },
  { name: 'numericmx.dns.test', type: 'MX', data: '10 192.0.2.99' },
  { name: 'badmx.dns.test', type: 'A', data: '192.0.2.66' },
  { name: 'badmx-sender.dns.test', type: 'MX', data: '10 badmx.dns.test' },
  { name: 'badmx2.dns.test', type: 'A', data: '192.0.2.67' },
  { name: 'badmx2-sender.dns.test', type: 'MX', data: '10 badmx2.dns.test' },
  { name: 'okmx-sender.dns.test', type: 'MX', data: '10 okmx.dns.test' },
  { name: 'okmx.dns.test', type: 'A', data: '192.0.2.68' },
  { name: 'nomxhost-sender.dns.test', type: 'MX', data: '10 missing.dns.test' },
  { name: 'self.dns.test', type: 'A', data: '192.0.2.67' },
  { name: 'sub.dns.test', type: 'A', data: '192.0.2.70' },
  // permit_mx_backup: mx.example.test is this host ($myhostname in $mydestination).
  { name: 'backup.remote.test', type: 'MX', data: '10 primary.remote.test' },
  { name: 'backup.remote.test', type: 'MX', data: '20 mx.example.test' },
  { name: 'primary.remote.test', type: 'A', data: '192.0.2.80' },
  { name: 'primaryus.remote.test', type: 'MX', data: '10 mx.example.test' },
  { name: 'primaryus.remote.test', type: 'MX', data: '20 other.remote.test' },
  { name: 'byaddr.remote.test', type: 'MX', data: '10 primary.remote.test' },
  { name: 'byaddr.remote.test', type: 'MX', data: '20 backup-host.remote.test' },
  { name: 'backup-host.remote.test', type: 'A', data: '127.0.0.1' },
  { name: 'notus.remote.test', type: 'MX', data: '10 primary.remote.test' },
  { name: 'notus.remote.test', type: 'MX', data: '20 other.remote.test' },
  { name: 'other.remote.test', type: 'A', data: '192.0.2.81' },
  { name: 'remote.test', type: 'SOA', data: 'ns.remote.test hostmaster.remote.test 1 3600 600 86400 30' },
  { name: 'rcpt.remote.test', type: 'MX', data: '10 mta.dns.test' },
];

/** A DNS server with the zone, and settings that send every lookup to it with short timeouts. */
async function zone(t: { after(fn: () => unknown): void }, behaviours: Record<string, Behaviour> = {}): Promise<{ dns: TestDns; settings: Record<string, string> }> {
  const dns = await startDnsServer(t, { records: ZONE });
  for (const [n, b] of Object.entries(behaviours)) dns.setBehaviour(n, b);
  return {
    dns,
    settings: {
      mxguard_dns_servers: dns.server, mxguard_dns_timeout: '0.6s', mxguard_dns_attempt_timeout: '0.2s',
      mxguard_dns_temporary_cache_ttl: '0', mydestination: '$myhostname, example.test',
    },
  };
}

async function list(stage: Stage, name: string, value: string, settings: Record<string, string>, over: Partial<TransactionContext> = {}): Promise<Decision> {
  const cfg = testConfig({ [name]: value, ...settings });
  return evaluateList(stage, name, { ...rcptContext(cfg, 'alice@example.test'), stage, ...over });
}

/** A whole RCPT TO with delayed rejection: every list up to the recipient's, deferrals enforced. */
async function rcpt(settings: Record<string, string>, over: Partial<TransactionContext> = {}): Promise<Decision> {
  // The relay list is emptied so that each test's recipient list decides alone.
  const cfg = testConfig({ smtpd_relay_restrictions: '', smtpd_recipient_restrictions: 'permit_mynetworks, reject_unauth_destination', ...settings });
  return evaluateRcpt(rcptContext(cfg, over.recipient ?? 'alice@example.test', over));
}

const helo = (s: Record<string, string>, name: string, extra: Record<string, string> = {}) =>
  rcpt({ smtpd_helo_restrictions: 'reject_unknown_helo_hostname', ...s, ...extra }, { helo: name });

test('reject_unknown_helo_hostname: A, AAAA, MX, CNAME or a nullMX is enough; no record is 450 4.7.1 Host not found', async (t) => {
  const { settings: s } = await zone(t);
  for (const name of ['mta.dns.test', 'aonly.dns.test', 'v6only.dns.test', 'mxonly.dns.test', 'cname.dns.test', 'nullmx.dns.test']) {
    assert.equal(said(await helo(s, name)), 'accept', name);
  }
  assert.equal(said(await helo(s, 'nothing.dns.test')), '450 4.7.1 <nothing.dns.test>: Helo command rejected: Host not found');
  assert.equal(said(await helo(s, 'txtonly.dns.test')), '450 4.7.1 <txtonly.dns.test>: Helo command rejected: Host not found');
  // $unknown_hostname_reject_code; the class digit follows the code.
  assert.equal(said(await helo(s, 'nothing.dns.test', { unknown_hostname_reject_code: '550' })),
    '550 5.7.1 <nothing.dns.test>: Helo command rejected: Host not found');
  // An MX answer with a numeric exchange is a malformed reply (DNS_INVAL), with Postfix's warning.
  const d = await helo(s, 'numericmx.dns.test');
  assert.equal(said(d), '450 4.7.1 <numericmx.dns.test>: Helo command rejected: Malformed DNS server reply');
  assert.deepEqual(warnings(d), ['numeric domain name in resource data of MX record for numericmx.dns.test: 192.0.2.99']);
});

test('reject_unknown_helo_hostname: the seeds (bare IP, ec2.internal) are rejected; literals get the address check; no HELO is DUNNO', async (t) => {
  const { dns, settings: s } = await zone(t);
  // seeds/000: a bare IP address is never sent to the DNS (dns_lookup refuses it): Host not found.
  dns.clearQueries();
  assert.equal(said(await helo(s, '37.215.63.185')), '450 4.7.1 <37.215.63.185>: Helo command rejected: Host not found');
  assert.deepEqual(dns.queries(), []);
  // seeds/004: an AWS-internal name that the public DNS does not know.
  assert.equal(said(await helo(s, 'ip-172-30-0-149.ec2.internal')),
    '450 4.7.1 <ip-172-30-0-149.ec2.internal>: Helo command rejected: Host not found');
  // A trailing dot makes an invalid DNS name for Postfix: not looked up, not found.
  assert.equal(said(await helo(s, 'mta.dns.test.')), '450 4.7.1 <mta.dns.test.>: Helo command rejected: Host not found');
  assert.equal(said(await helo(s, '[192.0.2.50]')), 'accept');
  assert.equal(said(await helo(s, '[300.1.2.3]')), '501 5.5.2 <[300.1.2.3]>: Helo command rejected: invalid ip address');
  assert.equal(said(await rcpt({ smtpd_helo_restrictions: 'reject_unknown_helo_hostname', ...s }, { helo: undefined })), 'accept');
  // The old name is the same restriction.
  assert.equal(said(await rcpt({ smtpd_helo_restrictions: 'reject_unknown_hostname', ...s }, { helo: 'nothing.dns.test' })),
    '450 4.7.1 <nothing.dns.test>: Helo command rejected: Host not found');
});

test('reject_unknown_helo_hostname: SERVFAIL and timeouts defer (defer_if_permit by default), never 5xx', async (t) => {
  const { settings: s } = await zone(t, { 'broken.dns.test': 'servfail', 'slow.dns.test': 'timeout', 'refusing.dns.test': 'refused', 'junk.dns.test': 'garbage' });
  for (const name of ['x.broken.dns.test', 'x.slow.dns.test', 'x.refusing.dns.test', 'x.junk.dns.test']) {
    const d = await helo(s, name, { unknown_hostname_reject_code: '550' });
    assert.equal(said(d), `450 4.7.1 <${name}>: Helo command rejected: Host not found`, name);
  }
  // defer_if_permit: a later reject of the transaction wins, and is not softened.
  const later = await rcpt({ smtpd_helo_restrictions: 'reject_unknown_helo_hostname', smtpd_recipient_restrictions: 'reject_unauth_destination', ...s },
    { helo: 'x.broken.dns.test', recipient: 'bob@elsewhere.test' });
  assert.equal(said(later), '554 5.7.1 <bob@elsewhere.test>: Relay access denied');
  // … but a permit by a later list does not cancel it (defer_if_permit is sent when the stage permits).
  const permitted = await rcpt({ smtpd_helo_restrictions: 'reject_unknown_helo_hostname', smtpd_recipient_restrictions: 'permit', ...s },
    { helo: 'x.broken.dns.test' });
  assert.equal(said(permitted), '450 4.7.1 <x.broken.dns.test>: Helo command rejected: Host not found');
  // unknown_helo_hostname_tempfail_action = defer: an immediate 450, even before a permit in the same list.
  const now = await rcpt({ smtpd_helo_restrictions: 'reject_unknown_helo_hostname, permit', unknown_helo_hostname_tempfail_action: 'defer', ...s },
    { helo: 'x.broken.dns.test', recipient: 'bob@elsewhere.test' });
  assert.equal(said(now), '450 4.7.1 <x.broken.dns.test>: Helo command rejected: Host not found');
  // reject_tempfail_action is the default of both *_tempfail_action parameters.
  const viaDefault = await list('helo', 'smtpd_helo_restrictions', 'reject_unknown_helo_hostname', { ...s, reject_tempfail_action: 'defer' }, { helo: 'x.broken.dns.test' });
  assert.equal(said(viaDefault), '450 4.7.1 <x.broken.dns.test>: Helo command rejected: Host not found');
  // warn_if_reject: logged, not deferred.
  const warned = await rcpt({ smtpd_helo_restrictions: 'warn_if_reject reject_unknown_helo_hostname', ...s }, { helo: 'x.broken.dns.test' });
  assert.equal(said(warned), 'accept');
  assert.ok(warned.events.some((e) => e.action === 'reject_warning' && /^450 4\.7\.1 <x\.broken\.dns\.test>: Helo command rejected: Host not found$/.test(e.text)), JSON.stringify(warned.events));
});

test('reject_unknown_sender_domain: MX, then A/AAAA; Domain not found; nullMX 550 5.7.27; local and null senders skipped', async (t) => {
  const { dns, settings: s } = await zone(t);
  const mail = (from: string, extra: Record<string, string> = {}) => rcpt({ smtpd_sender_restrictions: 'reject_unknown_sender_domain', ...s, ...extra }, { sender: from });
  for (const from of ['a@mxonly.dns.test', 'a@aonly.dns.test', 'a@v6only.dns.test', 'a@cname.dns.test']) assert.equal(said(await mail(from)), 'accept', from);
  // The seeds' unresolvable sender domain.
  assert.equal(said(await mail('user@nothing.dns.test')), '450 4.1.8 <user@nothing.dns.test>: Sender address rejected: Domain not found');
  assert.equal(said(await mail('user@txtonly.dns.test', { unknown_address_reject_code: '550' })),
    '550 5.1.8 <user@txtonly.dns.test>: Sender address rejected: Domain not found');
  // RFC 7505 null MX: fixed 550 5.7.27, whatever $unknown_address_reject_code says.
  assert.equal(said(await mail('user@nullmx.dns.test', { unknown_address_reject_code: '450' })),
    '550 5.7.27 <user@nullmx.dns.test>: Sender address rejected: Domain nullmx.dns.test does not accept mail (nullMX)');
  dns.clearQueries();
  assert.equal(said(await mail('')), 'accept');
  assert.equal(said(await mail('user@example.test')), 'accept');
  assert.equal(said(await mail('user@[192.0.2.1]')), 'accept');
  assert.deepEqual(dns.queries(), [], 'no lookups for the null sender, a local domain or an address literal');
  assert.equal(said(await rcpt({ smtpd_sender_restrictions: 'reject_unknown_address', ...s }, { sender: 'user@nothing.dns.test' })),
    '450 4.1.8 <user@nothing.dns.test>: Sender address rejected: Domain not found');
});

test('reject_unknown_sender_domain: temporary failures give 450 (defer_if_permit or defer), never 5xx', async (t) => {
  const { settings: s } = await zone(t, { 'broken.dns.test': 'servfail', 'slow.dns.test': 'timeout' });
  for (const from of ['user@x.broken.dns.test', 'user@x.slow.dns.test']) {
    const d = await rcpt({ smtpd_sender_restrictions: 'reject_unknown_sender_domain', unknown_address_reject_code: '550', ...s }, { sender: from });
    assert.equal(said(d), `450 4.1.8 <${from}>: Sender address rejected: Domain not found`, from);
    assert.equal(d.trace.find((x) => x.restriction === 'reject_unknown_sender_domain')?.outcome.kind, 'defer_if_permit');
  }
  const d = await rcpt({ smtpd_sender_restrictions: 'reject_unknown_sender_domain, permit', unknown_address_tempfail_action: 'defer', ...s },
    { sender: 'user@x.broken.dns.test' });
  assert.equal(said(d), '450 4.1.8 <user@x.broken.dns.test>: Sender address rejected: Domain not found');
  assert.equal(d.trace.find((x) => x.restriction === 'reject_unknown_sender_domain')?.outcome.kind, 'reject');
});

test('reject_unknown_recipient_domain: Domain not found 4.1.2, nullMX 556 5.1.10, local domains skipped, relay domains looked up', async (t) => {
  const { settings: s } = await zone(t, { 'broken.dns.test': 'servfail' });
  const to = (r: string, extra: Record<string, string> = {}) =>
    rcpt({ smtpd_recipient_restrictions: 'reject_unknown_recipient_domain, permit_mynetworks, reject_unauth_destination', relay_domains: 'nothing.dns.test, rcpt.remote.test, broken.dns.test', ...s, ...extra }, { recipient: r });
  assert.equal(said(await to('alice@example.test')), 'accept');
  assert.equal(said(await to('bob@rcpt.remote.test')), 'accept');
  assert.equal(said(await to('bob@nothing.dns.test')), '450 4.1.2 <bob@nothing.dns.test>: Recipient address rejected: Domain not found');
  assert.equal(said(await to('bob@nullmx.dns.test')),
    '556 5.1.10 <bob@nullmx.dns.test>: Recipient address rejected: Domain nullmx.dns.test does not accept mail (nullMX)');
  assert.equal(said(await to('bob@x.broken.dns.test', { unknown_address_reject_code: '550' })),
    '450 4.1.2 <bob@x.broken.dns.test>: Recipient address rejected: Domain not found');
});

test('reject_unknown_client_hostname and reject_unknown_reverse_client_hostname follow the name status (the seeds\' hostless client)', async () => {
  const cfg = (extra: Record<string, string> = {}) => testConfig({
    smtpd_client_restrictions: 'reject_unknown_client_hostname', mydestination: 'example.test', ...extra,
  });
  const run = (client: Partial<ClientInfo>, extra: Record<string, string> = {}, list = 'reject_unknown_client_hostname') => {
    const c = cfg({ smtpd_client_restrictions: list, ...extra });
    const base = rcptContext(c, 'alice@example.test');
    return evaluateRcpt({ ...base, client: { ...base.client, address: '192.0.2.9', ...client } }).then(said);
  };
  // Hostless client: no PTR (a permanent failure).
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown', nameStatus: 'permanent', reverseNameStatus: 'permanent' }),
    '450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]');
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown' }, { unknown_client_reject_code: '550' }),
    '550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]');
  // A temporary failure is always 450, whatever the code parameter says.
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown', nameStatus: 'temporary', reverseNameStatus: 'temporary' }, { unknown_client_reject_code: '550' }),
    '450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]');
  // PTR without forward confirmation: the reverse name exists, the name does not.
  const forged = { name: 'unknown', reverseName: 'ptr.example.net', nameStatus: 'permanent' as const, reverseNameStatus: 'ok' as const };
  assert.equal(await run(forged, { unknown_client_reject_code: '550' }), '550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]');
  assert.equal(await run(forged, { unknown_client_reject_code: '550' }, 'reject_unknown_reverse_client_hostname'), 'accept');
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown', reverseNameStatus: 'permanent' }, { unknown_client_reject_code: '550' }, 'reject_unknown_reverse_client_hostname'),
    '550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.9]');
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown', reverseNameStatus: 'temporary' }, { unknown_client_reject_code: '550' }, 'reject_unknown_reverse_client_hostname'),
    '450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.9]');
  assert.equal(await run({ name: 'mta.example.net', reverseName: 'mta.example.net' }), 'accept');
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown' }, {}, 'reject_unknown_client'), '450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]');
  // Immediate even when a later entry would permit: no defer_if_permit for the client name.
  assert.equal(await run({ name: 'unknown', reverseName: 'unknown', nameStatus: 'temporary' }, {}, 'reject_unknown_client_hostname, permit'),
    '450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]');
});

test('check_*_mx_access: MX host names, then their addresses; the domain itself without MX; nullMX and failures are DUNNO', async (t) => {
  const { settings: s } = await zone(t, { 'broken.dns.test': 'servfail' });
  const table = 'inline:{ badmx.dns.test=REJECT bad mx host, 192.0.2.67=REJECT bad mx address, 192.0.2.61=550 5.7.1 bad address, okmx.dns.test=DUNNO, 192.0.2.68=REJECT never reached }';
  const mail = (from: string, l = `check_sender_mx_access ${table}`) => rcpt({ smtpd_sender_restrictions: l, ...s }, { sender: from });
  assert.equal(said(await mail('a@badmx-sender.dns.test')), '554 5.7.1 <a@badmx-sender.dns.test>: Sender address rejected: bad mx host');
  assert.equal(said(await mail('a@badmx2-sender.dns.test')), '554 5.7.1 <a@badmx2-sender.dns.test>: Sender address rejected: bad mx address');
  // No MX: the domain is its own mail server, looked up by name and address.
  assert.equal(said(await mail('a@aonly.dns.test')), '550 5.7.1 <a@aonly.dns.test>: Sender address rejected: bad address');
  // A DUNNO entry for the MX host name ends the search: its address is not looked up.
  assert.equal(said(await mail('a@okmx-sender.dns.test')), 'accept');
  assert.equal(said(await mail('a@nullmx.dns.test')), 'accept');
  const failed = await mail('a@x.broken.dns.test');
  assert.equal(said(failed), 'accept');
  assert.deepEqual(warnings(failed), ['Unable to look up MX host for x.broken.dns.test: Host not found, try again']);
  const noHost = await mail('a@nomxhost-sender.dns.test');
  assert.equal(said(noHost), 'accept');
  assert.deepEqual(warnings(noHost), ['Unable to look up MX host missing.dns.test for Sender address a@nomxhost-sender.dns.test: Name or service not known']);
  // The recipient and HELO forms; an address literal is its own MX.
  assert.equal(said(await rcpt({ smtpd_recipient_restrictions: `check_recipient_mx_access ${table}, permit_mynetworks, reject_unauth_destination`, ...s }, { recipient: 'x@[192.0.2.67]' })),
    '554 5.7.1 <x@[192.0.2.67]>: Recipient address rejected: bad mx address');
  assert.equal(said(await rcpt({ smtpd_helo_restrictions: `check_helo_mx_access ${table}`, ...s }, { helo: 'badmx-sender.dns.test' })),
    '554 5.7.1 <badmx-sender.dns.test>: Helo command rejected: bad mx host');
});

test('check_*_a_access and check_*_ns_access; the client forms skip "unknown"; OK is refused with 451 4.3.5', async (t) => {
  const { settings: s } = await zone(t);
  const table = 'inline:{ 192.0.2.67=REJECT listed address, ns.dns.test=REJECT listed name server, 192.0.2=REJECT listed net }';
  // _a_: only the addresses of the name itself (self.dns.test has 192.0.2.67).
  assert.equal(said(await rcpt({ smtpd_helo_restrictions: `check_helo_a_access ${table}`, ...s }, { helo: 'self.dns.test' })),
    '554 5.7.1 <self.dns.test>: Helo command rejected: listed address');
  // Partial address keys: 192.0.2.
  assert.equal(said(await rcpt({ smtpd_helo_restrictions: `check_helo_a_access ${table}`, ...s }, { helo: 'mta.dns.test' })),
    '554 5.7.1 <mta.dns.test>: Helo command rejected: listed net');
  // _ns_: no NS at sub.dns.test, so its parent's.
  assert.equal(said(await rcpt({ smtpd_sender_restrictions: `check_sender_ns_access ${table}`, ...s }, { sender: 'a@sub.dns.test' })),
    '554 5.7.1 <a@sub.dns.test>: Sender address rejected: listed name server');
  // Client forms: the verified name (replies name name[addr]); the reverse name ("Unverified Client host").
  const client = { address: '192.0.2.9', port: 1, name: 'self.dns.test', reverseName: 'self.dns.test' };
  assert.equal(said(await rcpt({ smtpd_client_restrictions: `check_client_a_access ${table}`, ...s }, { client })),
    '554 5.7.1 <self.dns.test[192.0.2.9]>: Client host rejected: listed address');
  assert.equal(said(await rcpt({ smtpd_client_restrictions: `check_reverse_client_hostname_ns_access ${table}`, ...s }, { client })),
    '554 5.7.1 <self.dns.test>: Unverified Client host rejected: listed name server');
  assert.equal(said(await rcpt({ smtpd_client_restrictions: `check_client_mx_access ${table}`, ...s },
    { client: { address: '192.0.2.67', port: 1, name: 'unknown', reverseName: 'unknown' } })), 'accept');
  // OK is not allowed: three warnings, 451 4.3.5.
  const ok = await rcpt({ smtpd_sender_restrictions: 'check_sender_mx_access inline:{192.0.2.60=OK}', ...s }, { sender: 'a@mxonly.dns.test' });
  assert.equal(said(ok), '451 4.3.5 Server configuration error');
  assert.deepEqual(warnings(ok), ['restriction check_sender_mx_access returns OK for a@mxonly.dns.test',
    'this is not allowed for security reasons', 'use DUNNO instead of OK if you want to make an exception']);
  assert.equal(said(await rcpt({ smtpd_sender_restrictions: 'check_sender_a_access notatable', ...s }, { sender: 'a@mxonly.dns.test' })),
    '451 4.3.5 Server configuration error');
});

test('permit_mx_backup: a backup MX is permitted, a primary is not; permit_mx_backup_networks; lookup failures defer_if_reject', async (t) => {
  const { settings: s } = await zone(t, { 'broken.remote.test': 'servfail' });
  const to = (r: string, extra: Record<string, string> = {}) =>
    rcpt({ smtpd_recipient_restrictions: 'permit_mx_backup, reject_unauth_destination', ...s, ...extra }, { recipient: r });
  assert.equal(said(await to('bob@backup.remote.test')), 'accept');
  // By address: an MX host whose address is one of ours (a single-host mynetworks entry).
  assert.equal(said(await to('bob@byaddr.remote.test')), 'accept');
  assert.equal(said(await to('bob@primaryus.remote.test')), '554 5.7.1 <bob@primaryus.remote.test>: Relay access denied');
  assert.equal(said(await to('bob@notus.remote.test')), '554 5.7.1 <bob@notus.remote.test>: Relay access denied');
  assert.equal(said(await to('bob@nothing.remote.test')), '554 5.7.1 <bob@nothing.remote.test>: Relay access denied');
  assert.equal(said(await to('alice@example.test')), 'accept');
  assert.equal(said(await to('bob@backup.remote.test', { permit_mx_backup_networks: '192.0.2.0/24' })), 'accept');
  assert.equal(said(await to('bob@backup.remote.test', { permit_mx_backup_networks: '198.51.100.0/24' })),
    '554 5.7.1 <bob@backup.remote.test>: Relay access denied');
  // A temporary failure turns the later 5xx of the stage into a 450.
  assert.equal(said(await to('bob@x.broken.remote.test')),
    '450 4.4.4 <bob@x.broken.remote.test>: Recipient address rejected: Unable to look up mail exchanger information: Host not found, try again');
});
