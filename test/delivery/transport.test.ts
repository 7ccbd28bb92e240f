/**
 * Transport selection: trivial-rewrite(8) address classes, then transport(5) overrides.
 * Each row: main.cf settings, a recipient, and the (transport, nexthop) expected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearTableCache, matchDomainList, resolveTransport } from '../../src/delivery/transport.js';
import { testConfig } from './config-helper.js';

interface Row {
  readonly why: string;
  readonly settings: Record<string, string>;
  readonly rcpt: string;
  readonly want: { transport: string; nexthop: string };
}

const rows: Row[] = [
  // Local class: $mydestination (default: $myhostname, localhost.$mydomain, localhost).
  { why: 'myhostname is local; mxguard stores local mail with virtual',
    settings: {}, rcpt: 'user@mx.example.test', want: { transport: 'virtual', nexthop: 'mx.example.test' } },
  { why: 'domain match is case-insensitive',
    settings: {}, rcpt: 'user@LOCALHOST.Example.Test', want: { transport: 'virtual', nexthop: 'localhost.example.test' } },
  { why: 'an address literal of this host is local',
    settings: { inet_interfaces: 'loopback-only' }, rcpt: 'user@[127.0.0.1]', want: { transport: 'virtual', nexthop: '[127.0.0.1]' } },
  { why: 'an address literal of another host is not',
    settings: { inet_interfaces: '127.0.0.1' }, rcpt: 'user@[192.0.2.7]', want: { transport: 'smtp', nexthop: '[192.0.2.7]' } },
  { why: 'an unqualified address gets $myorigin',
    settings: {}, rcpt: 'postmaster', want: { transport: 'virtual', nexthop: 'mx.example.test' } },
  { why: 'local_transport with its own nexthop',
    settings: { local_transport: 'lmtp:unix:private/dovecot-lmtp' }, rcpt: 'u@localhost', want: { transport: 'lmtp', nexthop: 'unix:private/dovecot-lmtp' } },
  { why: 'mydestination does not match subdomains (not in parent_domain_matches_subdomains)',
    settings: { mydestination: 'example.test' }, rcpt: 'u@sub.example.test', want: { transport: 'smtp', nexthop: 'sub.example.test' } },
  { why: 'a .domain pattern matches subdomains',
    settings: { mydestination: 'example.test, .example.test' }, rcpt: 'u@sub.example.test', want: { transport: 'virtual', nexthop: 'sub.example.test' } },
  { why: '!pattern excludes, first match wins',
    settings: { mydestination: '!no.example.test, .example.test' }, rcpt: 'u@no.example.test', want: { transport: 'smtp', nexthop: 'no.example.test' } },

  // Virtual mailbox class.
  { why: 'virtual_mailbox_domains → virtual_transport',
    settings: { virtual_mailbox_domains: 'hosted.test' }, rcpt: 'u@hosted.test', want: { transport: 'virtual', nexthop: 'hosted.test' } },
  { why: 'virtual_transport to Dovecot',
    settings: { virtual_mailbox_domains: 'hosted.test', virtual_transport: 'lmtp:inet:127.0.0.1:24' }, rcpt: 'u@hosted.test',
    want: { transport: 'lmtp', nexthop: 'inet:127.0.0.1:24' } },
  { why: 'virtual_mailbox_domains from a table (inline)',
    settings: { virtual_mailbox_domains: 'inline:{ hosted.test=yes }' }, rcpt: 'u@hosted.test', want: { transport: 'virtual', nexthop: 'hosted.test' } },
  { why: 'mydestination wins over virtual_mailbox_domains',
    settings: { virtual_mailbox_domains: 'mx.example.test', local_transport: 'discard' }, rcpt: 'u@mx.example.test', want: { transport: 'discard', nexthop: 'mx.example.test' } },

  // Relay class.
  { why: 'relay_domains → relay_transport',
    settings: { relay_domains: 'relayed.test' }, rcpt: 'u@relayed.test', want: { transport: 'relay', nexthop: 'relayed.test' } },
  { why: 'relay_domains matches subdomains (parent_domain_matches_subdomains default)',
    settings: { relay_domains: 'relayed.test' }, rcpt: 'u@deep.sub.relayed.test', want: { transport: 'relay', nexthop: 'deep.sub.relayed.test' } },
  { why: 'relayhost is the nexthop of relay domains too',
    settings: { relay_domains: 'relayed.test', relayhost: '[smart.test]:587' }, rcpt: 'u@relayed.test', want: { transport: 'relay', nexthop: '[smart.test]:587' } },

  // Default class.
  { why: 'anything else → default_transport, nexthop the domain',
    settings: {}, rcpt: 'u@remote.test', want: { transport: 'smtp', nexthop: 'remote.test' } },
  { why: 'relayhost supplies the nexthop',
    settings: { relayhost: '[smart.test]:587' }, rcpt: 'u@remote.test', want: { transport: 'smtp', nexthop: '[smart.test]:587' } },
  { why: 'a nexthop in default_transport beats relayhost',
    settings: { relayhost: '[smart.test]', default_transport: 'smtp:[other.test]:2525' }, rcpt: 'u@remote.test', want: { transport: 'smtp', nexthop: '[other.test]:2525' } },
  { why: 'relayhost is not used for local mail',
    settings: { relayhost: '[smart.test]' }, rcpt: 'u@localhost', want: { transport: 'virtual', nexthop: 'localhost' } },

  // transport_maps (inline), transport(5) search order.
  { why: 'domain entry; transport value with its own nexthop',
    settings: { transport_maps: 'inline:{ example.org=lmtp:inet:127.0.0.1:24 }' }, rcpt: 'u@example.org',
    want: { transport: 'lmtp', nexthop: 'inet:127.0.0.1:24' } },
  { why: 'the domain entry does not match subdomains; the .parent entry does',
    settings: { transport_maps: 'inline:{ example.org=lmtp:inet:127.0.0.1:24, .example.org=smtp:[gw.example.org]:2525 }' }, rcpt: 'u@a.b.example.org',
    want: { transport: 'smtp', nexthop: '[gw.example.org]:2525' } },
  { why: 'full address beats domain',
    settings: { transport_maps: 'inline:{ vip@example.org=smtp:[vip.test], example.org=smtp:[gw.test] }' }, rcpt: 'VIP@example.org',
    want: { transport: 'smtp', nexthop: '[vip.test]' } },
  { why: 'user@domain after cutting the extension at recipient_delimiter',
    settings: { recipient_delimiter: '+', transport_maps: 'inline:{ vip@example.org=smtp:[vip.test] }' }, rcpt: 'vip+tag@example.org',
    want: { transport: 'smtp', nexthop: '[vip.test]' } },
  { why: '"transport:" with no nexthop takes the recipient domain, not relayhost',
    settings: { relayhost: '[smart.test]', transport_maps: 'inline:{ example.org=slow: }' }, rcpt: 'u@example.org',
    want: { transport: 'slow', nexthop: 'example.org' } },
  { why: '":nexthop" keeps the class transport',
    settings: { transport_maps: 'inline:{ example.org=:[gw.test]:26 }' }, rcpt: 'u@example.org',
    want: { transport: 'smtp', nexthop: '[gw.test]:26' } },
  { why: 'a table entry for a local domain changes its transport',
    settings: { transport_maps: 'inline:{ localhost=lmtp:unix:/run/dovecot/lmtp }' }, rcpt: 'u@localhost',
    want: { transport: 'lmtp', nexthop: 'unix:/run/dovecot/lmtp' } },
  { why: 'the * wildcard is tried last',
    settings: { transport_maps: 'inline:{ *=smtp:[outbound.test], example.org=lmtp:[127.0.0.1] }' }, rcpt: 'u@elsewhere.test',
    want: { transport: 'smtp', nexthop: '[outbound.test]' } },
  { why: 'error: without text gets a reason',
    settings: { transport_maps: 'inline:{ dead.test=error: }' }, rcpt: 'u@dead.test',
    want: { transport: 'error', nexthop: 'mail for this destination is not deliverable' } },
  { why: 'error:text',
    settings: { transport_maps: 'inline:{ dead.test=error:5.1.2 domain is gone }' }, rcpt: 'u@dead.test',
    want: { transport: 'error', nexthop: '5.1.2 domain is gone' } },
  { why: 'no entry: address class decides',
    settings: { transport_maps: 'inline:{ example.org=discard: }' }, rcpt: 'u@remote.test', want: { transport: 'smtp', nexthop: 'remote.test' } },
];

for (const row of rows) {
  test(`resolveTransport: ${row.why}`, () => {
    clearTableCache();
    assert.deepEqual(resolveTransport(testConfig(row.settings), row.rcpt), row.want);
  });
}

test('resolveTransport: hash: transport_maps file with ":" (no change), parent domains and a wildcard', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'transport');
  // The transport(5) example: deliver inside directly, everything else through a relay.
  writeFileSync(file, [
    '# internal mail directly',
    'my.example      :',
    '.my.example     :',
    '*               smtp:[outbound.my.example]:2525',
    'lists.example   lmtp:inet:127.0.0.1:2424',
    '',
  ].join('\n'));
  clearTableCache();
  const cfg = testConfig({ transport_maps: `hash:${file}`, relay_domains: 'my.example' });
  assert.deepEqual(resolveTransport(cfg, 'a@my.example'), { transport: 'relay', nexthop: 'my.example' });
  assert.deepEqual(resolveTransport(cfg, 'a@host.my.example'), { transport: 'relay', nexthop: 'host.my.example' });
  assert.deepEqual(resolveTransport(cfg, 'a@lists.example'), { transport: 'lmtp', nexthop: 'inet:127.0.0.1:2424' });
  assert.deepEqual(resolveTransport(cfg, 'a@far.test'), { transport: 'smtp', nexthop: '[outbound.my.example]:2525' });
  // Local mail is matched by * as well: transport(5) applies to every class.
  assert.deepEqual(resolveTransport(cfg, 'a@localhost'), { transport: 'smtp', nexthop: '[outbound.my.example]:2525' });
});

test('resolveTransport: mydestination from a table and a file of patterns', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'domains'), 'hosted-a.test OK\nhosted-b.test OK\n');
  writeFileSync(join(dir, 'list'), '# more domains\nlisted.test, .sub.listed.test\n');
  clearTableCache();
  const cfg = testConfig({ mydestination: `$myhostname, texthash:${join(dir, 'domains')}, ${join(dir, 'list')}` });
  assert.equal(resolveTransport(cfg, 'u@hosted-b.test').transport, 'virtual');
  assert.equal(resolveTransport(cfg, 'u@listed.test').transport, 'virtual');
  assert.equal(resolveTransport(cfg, 'u@x.sub.listed.test').transport, 'virtual');
  assert.equal(resolveTransport(cfg, 'u@other.test').transport, 'smtp');
  assert.equal(matchDomainList(cfg, 'mydestination', 'HOSTED-A.TEST.'), true);
});

test('resolveTransport: a table that cannot be opened is a configuration error, not a miss', () => {
  clearTableCache();
  const cfg = testConfig({ transport_maps: 'hash:/nonexistent/mxguard/transport' });
  assert.throws(() => resolveTransport(cfg, 'u@remote.test'), /cannot read table/);
});
