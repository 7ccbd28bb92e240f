/** Server lists, resolv.conf, names, and the shared resolvers built from the configuration. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/types.js';
import {
  clearDnsCache, normalizeName, parseResolvConf, parseServer, parseServerList, resolverFor, reverseName, systemServers,
} from '../../src/dns/index.js';
import { startDnsServer } from '../helpers/dns-server.js';

function cfg(settings: Record<string, string> = {}): Config {
  return new Config(new Map(Object.entries(settings).map(([k, v]) => [k, { value: v, file: 'main.cf', line: 1 }])), new Map());
}

test('server entries: address, address:port, [v6]:port, bare v6; anything else refused', () => {
  assert.deepEqual(parseServer('1.2.3.4'), { address: '1.2.3.4', port: 53 });
  assert.deepEqual(parseServer('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseServer('[::1]:53'), { address: '::1', port: 53 });
  assert.deepEqual(parseServer('[::1]'), { address: '::1', port: 53 });
  assert.deepEqual(parseServer('::1'), { address: '::1', port: 53 });
  for (const bad of ['dns.example.test', '1.2.3.4:0', '1.2.3.4:70000', '[::1]:x', '1.2.3:53', '']) {
    assert.equal(parseServer(bad), undefined, bad);
  }
  assert.throws(() => parseServerList(['127.0.0.1', 'resolver.test']), ConfigError);
});

test('resolv.conf: nameserver lines in order, comments and options skipped, zone ids dropped', () => {
  const text = [
    '# generated', 'search example.test', 'options timeout:1 attempts:3',
    'nameserver 127.0.0.53', '; nameserver 127.0.0.99', 'nameserver   fe80::1%eth0  # link-local',
    'nameserver not-an-address', 'nameserver ::1', '',
  ].join('\n');
  assert.deepEqual(parseResolvConf(text), [
    { address: '127.0.0.53', port: 53 }, { address: 'fe80::1', port: 53 }, { address: '::1', port: 53 },
  ]);
  assert.deepEqual(parseResolvConf('search x.test\n'), [{ address: '127.0.0.1', port: 53 }]);
  const dir = mkdtempSync(join(tmpdir(), 'mxg-dns-'));
  try {
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.7\r\nnameserver 127.0.0.8\r\n');
    assert.deepEqual(systemServers(join(dir, 'resolv.conf')).map((s) => s.address), ['127.0.0.7', '127.0.0.8']);
    assert.deepEqual(systemServers(join(dir, 'missing')), [{ address: '127.0.0.1', port: 53 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('names: lower case, trailing dot dropped, ASCII and RFC 1035 lengths enforced', () => {
  assert.deepEqual(normalizeName('Mail.Example.TEST.'), { ok: true, name: 'mail.example.test' });
  assert.deepEqual(normalizeName('.'), { ok: true, name: '' });
  assert.deepEqual(normalizeName('xn--bcher-kva.test'), { ok: true, name: 'xn--bcher-kva.test' });
  assert.equal(normalizeName('bücher.test').ok, false);
  assert.equal(normalizeName('a..b').ok, false);
  assert.equal(normalizeName(`${'a'.repeat(63)}.test`).ok, true);
  assert.equal(normalizeName(`${'a'.repeat(64)}.test`).ok, false);
});

test('reverse names: in-addr.arpa and ip6.arpa nibbles', () => {
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('::ffff:192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('2001:db8::567:89ab'),
    'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('[::1]'), `1.${'0.'.repeat(31)}ip6.arpa`);
  for (const bad of ['127.1', '0x7f.0.0.1', '256.1.1.1', 'host.test', '']) assert.equal(reverseName(bad), undefined, bad);
});

test('parameters: declared with their defaults', () => {
  const c = cfg();
  assert.deepEqual(c.list('mxguard_dns_servers'), []);
  assert.equal(c.time('mxguard_dns_timeout'), 5);
  assert.equal(c.time('mxguard_dns_attempt_timeout'), 2);
  assert.equal(c.int('mxguard_dns_cache_size'), 10000);
  assert.equal(c.time('mxguard_dns_cache_max_ttl'), 3600);
  assert.equal(c.time('mxguard_dns_negative_cache_max_ttl'), 3600);
  assert.equal(c.time('mxguard_dns_temporary_cache_ttl'), 5);
  c.validate();
  assert.throws(() => cfg({ mxguard_dns_timeout: '0' }).validate(), ConfigError);
});

test('resolverFor: one shared resolver per distinct setting, pointed at mxguard_dns_servers', async (t) => {
  const dns = await startDnsServer(t, { records: [{ name: 'shared.test', type: 'A', data: '127.0.0.5' }] });
  const a = cfg({ mxguard_dns_servers: dns.server, mxguard_dns_timeout: '2s' });
  const b = cfg({ mxguard_dns_servers: `${dns.server}`, mxguard_dns_timeout: '2' });   // same values
  const other = cfg({ mxguard_dns_servers: dns.server, mxguard_dns_timeout: '3s' });
  assert.equal(resolverFor(a), resolverFor(b));
  assert.notEqual(resolverFor(a), resolverFor(other));
  assert.deepEqual(resolverFor(a).servers, [{ address: '127.0.0.1', port: dns.port }]);

  assert.deepEqual(await resolverFor(a).lookup('shared.test', 'A'), { kind: 'answer', records: [{ type: 'A', address: '127.0.0.5', ttl: 300 }] });
  await resolverFor(b).lookup('shared.test', 'A');
  assert.equal(dns.queries().length, 1, 'b shares a\'s cache');
  clearDnsCache();
  await resolverFor(b).lookup('shared.test', 'A');
  assert.equal(dns.queries().length, 2, 'clearDnsCache emptied it');
});

test('resolverFor: an empty mxguard_dns_servers means the system resolver list', () => {
  const r = resolverFor(cfg({ mxguard_dns_cache_size: '7' }));
  assert.deepEqual(r.servers, systemServers());
  assert.ok(r.servers.length >= 1);
});

test('resolverFor: a malformed server entry is a configuration error', () => {
  assert.throws(() => resolverFor(cfg({ mxguard_dns_servers: 'resolver.example.test' })), ConfigError);
});
