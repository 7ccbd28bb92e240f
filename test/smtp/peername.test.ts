/**
 * The client's names (smtp/client-name.ts, Postfix smtpd_peer.c): a PTR lookup, then forward
 * confirmation of the PTR name, against a real DNS server on loopback; the name statuses that
 * reject_unknown_client_hostname and reject_unknown_reverse_client_hostname answer on; XCLIENT's
 * [UNAVAILABLE] / [TEMPUNAVAIL]; and a gateway that serves clients from several 127.x.y.z
 * addresses with PTR records in the test zone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupClientNames } from '../../src/smtp/client-name.js';
import { applyXclient, parseXclient, type XclientState } from '../../src/smtp/xclient.js';
import { startDnsServer, type TestDns, type ZoneRecord } from '../helpers/dns-server.js';
import { startGateway } from '../helpers/gateway.js';
import { SmtpTestClient } from '../helpers/smtp-client.js';
import { testConfig } from '../engine/config-helper.js';

const ptr = (address: string, name: string): ZoneRecord =>
  ({ name: `${address.split('.').reverse().join('.')}.in-addr.arpa`, type: 'PTR', data: name });

const ZONE: ZoneRecord[] = [
  { name: 'peer.test', type: 'SOA', data: 'ns.peer.test hostmaster.peer.test 1 3600 600 86400 30' },
  ptr('127.0.5.1', 'good.peer.test'), { name: 'good.peer.test', type: 'A', data: '127.0.5.1' },
  { name: 'good.peer.test', type: 'A', data: '192.0.2.1' },
  ptr('127.0.5.2', 'forged.peer.test'), { name: 'forged.peer.test', type: 'A', data: '192.0.2.2' },
  ptr('127.0.5.3', 'dangling.peer.test'),
  // 127.0.5.4: no PTR record (a hostless client).
  ptr('127.0.5.5', 'x.broken.peer.test'),
  ptr('127.0.5.6', '192.0.2.6'),
  ptr('127.0.5.7', 'v6.peer.test'), { name: 'v6.peer.test', type: 'AAAA', data: '2001:db8::7' },
  ptr('127.0.5.9', 'x.slowname.peer.test'),
];

async function zone(t: { after(fn: () => unknown): void }): Promise<TestDns> {
  const dns = await startDnsServer(t, { records: ZONE });
  dns.setBehaviour('8.5.0.127.in-addr.arpa', 'servfail');
  dns.setBehaviour('broken.peer.test', 'servfail');
  dns.setBehaviour('10.5.0.127.in-addr.arpa', 'timeout');
  dns.setBehaviour('slowname.peer.test', 'timeout');
  return dns;
}

const settings = (dns: TestDns, extra: Record<string, string> = {}) => ({
  mxguard_dns_servers: dns.server, mxguard_dns_timeout: '0.6s', mxguard_dns_attempt_timeout: '0.2s', mxguard_dns_temporary_cache_ttl: '0', ...extra,
});

test('forward-confirmed reverse DNS: the PTR name is the client name only when it resolves back to the address', async (t) => {
  const dns = await zone(t);
  const cfg = testConfig(settings(dns));
  const names = (a: string) => lookupClientNames(a, cfg);

  assert.deepEqual(await names('127.0.5.1'),
    { name: 'good.peer.test', reverseName: 'good.peer.test', nameStatus: 'ok', reverseNameStatus: 'ok', warnings: [] });
  assert.deepEqual(await names('127.0.5.2'), {
    name: 'unknown', reverseName: 'forged.peer.test', nameStatus: 'permanent', reverseNameStatus: 'ok',
    warnings: ['hostname forged.peer.test does not resolve to address 127.0.5.2'],
  });
  assert.deepEqual(await names('127.0.5.3'), {
    name: 'unknown', reverseName: 'dangling.peer.test', nameStatus: 'permanent', reverseNameStatus: 'ok',
    warnings: ['hostname dangling.peer.test does not resolve to address 127.0.5.3: Name or service not known'],
  });
  // A hostless client: no PTR at all.
  assert.deepEqual(await names('127.0.5.4'),
    { name: 'unknown', reverseName: 'unknown', nameStatus: 'permanent', reverseNameStatus: 'permanent', warnings: [] });
  // The forward lookup fails temporarily: the name is unknown for now, the reverse name stays.
  assert.deepEqual(await names('127.0.5.5'), {
    name: 'unknown', reverseName: 'x.broken.peer.test', nameStatus: 'temporary', reverseNameStatus: 'ok',
    warnings: ['hostname x.broken.peer.test does not resolve to address 127.0.5.5: Temporary failure in name resolution'],
  });
  assert.deepEqual(await names('127.0.5.6'),
    { name: 'unknown', reverseName: 'unknown', nameStatus: 'permanent', reverseNameStatus: 'permanent', warnings: ['numeric hostname: 192.0.2.6'] });
  // Only an IPv6 address for an IPv4 client: no match.
  assert.equal((await names('127.0.5.7')).nameStatus, 'permanent');
  // The PTR lookup fails temporarily: both names unknown, temporarily.
  assert.deepEqual(await names('127.0.5.8'),
    { name: 'unknown', reverseName: 'unknown', nameStatus: 'temporary', reverseNameStatus: 'temporary', warnings: [] });
});

test('mxguard_peername_timeout bounds the whole lookup; what is not known by then is a temporary failure', async (t) => {
  const dns = await zone(t);
  const cfg = testConfig(settings(dns, { mxguard_dns_timeout: '5s', mxguard_dns_attempt_timeout: '2s', mxguard_peername_timeout: '0.3s' }));
  let start = Date.now();
  assert.deepEqual(await lookupClientNames('127.0.5.10', cfg),
    { name: 'unknown', reverseName: 'unknown', nameStatus: 'temporary', reverseNameStatus: 'temporary', warnings: [] });
  assert.ok(Date.now() - start < 1500, `took ${Date.now() - start} ms`);
  start = Date.now();
  const r = await lookupClientNames('127.0.5.9', cfg);
  assert.equal(r.reverseName, 'x.slowname.peer.test');
  assert.equal(r.nameStatus, 'temporary');
  assert.ok(Date.now() - start < 1500, `took ${Date.now() - start} ms`);
});

test('XCLIENT NAME=[UNAVAILABLE] is a permanent, [TEMPUNAVAIL] a temporary name lookup failure', () => {
  const before: XclientState = { name: 'x.test', reverseName: 'x.test', address: '192.0.2.1', port: 1, helo: undefined, protocol: 'ESMTP', login: undefined };
  const apply = (args: string) => {
    const p = parseXclient(args);
    assert.ok(p.ok);
    return applyXclient(before, p.attributes).state;
  };
  assert.deepEqual([apply('NAME=[UNAVAILABLE]').name, apply('NAME=[UNAVAILABLE]').nameStatus], ['unknown', 'permanent']);
  assert.deepEqual([apply('NAME=[TEMPUNAVAIL]').name, apply('NAME=[TEMPUNAVAIL]').nameStatus], ['unknown', 'temporary']);
  const named = apply('NAME=mta.example.net');
  assert.deepEqual([named.name, named.nameStatus, named.reverseName, named.reverseNameStatus], ['mta.example.net', 'ok', 'mta.example.net', 'ok']);
  const rev = apply('NAME=[UNAVAILABLE] REVERSE_NAME=[tempunavail]');
  assert.deepEqual([rev.reverseName, rev.reverseNameStatus], ['unknown', 'temporary']);
});

test('gateway: clients at several 127.x addresses get Postfix\'s names, warnings and replies', async (t) => {
  const dns = await zone(t);
  const gw = await startGateway(t, {
    ...settings(dns),
    smtpd_peername_lookup: 'yes',
    mxguard_peername_timeout: '2s',
    mydestination: '$myhostname, example.test',
    unknown_client_reject_code: '550',
    smtpd_client_restrictions: 'reject_unknown_client_hostname',
  });
  const rcptFrom = async (address: string) => {
    const c = await SmtpTestClient.connect(gw.port, { localAddress: address });
    t.after(() => c.destroy());
    assert.equal((await c.read()).code, 220);
    await c.cmd('EHLO client.peer.test');
    await c.cmd('MAIL FROM:<a@peer.test>');
    const r = await c.cmd('RCPT TO:<alice@example.test>');
    await c.cmd('QUIT');
    return [r.code, r.status, ...r.text].filter((x) => x !== undefined).join(' ');
  };
  assert.equal(await rcptFrom('127.0.5.1'), '250 2.1.5 Ok');
  assert.equal(await rcptFrom('127.0.5.2'), '550 5.7.25 Client host rejected: cannot find your hostname, [127.0.5.2]');
  assert.equal(await rcptFrom('127.0.5.4'), '550 5.7.25 Client host rejected: cannot find your hostname, [127.0.5.4]');
  // A temporary failure is 450 whatever $unknown_client_reject_code says.
  assert.equal(await rcptFrom('127.0.5.8'), '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.5.8]');
  await gw.waitLog(/disconnect from unknown\[127\.0\.5\.8\]/);
  const log = gw.log();
  assert.match(log, /smtpd\[\d+\]: connect from good\.peer\.test\[127\.0\.5\.1\]/);
  assert.match(log, /smtpd\[\d+\]: warning: hostname forged\.peer\.test does not resolve to address 127\.0\.5\.2\n[^\n]*connect from unknown\[127\.0\.5\.2\]/);
  assert.match(log, /connect from unknown\[127\.0\.5\.4\]/);
  assert.match(log, /NOQUEUE: reject: RCPT from unknown\[127\.0\.5\.2\]: 550 5\.7\.25 Client host rejected: cannot find your hostname, \[127\.0\.5\.2\]; from=<a@peer\.test> to=<alice@example\.test> proto=ESMTP helo=<client\.peer\.test>/);
});
