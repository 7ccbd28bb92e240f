/** The resolver against the loopback test DNS server: result kinds, cache, faults, servers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';
import { createResolver, isTemporary, type DnsResult, type ResolverOptions } from '../../src/dns/index.js';
import { startDnsServer, type TestDns, type ZoneRecord } from '../helpers/dns-server.js';

type T = { after(fn: () => unknown): void };

const ZONE: ZoneRecord[] = [
  { name: 'host.example.test', type: 'A', data: '127.0.0.10', ttl: 120 },
  { name: 'host.example.test', type: 'A', data: '127.0.0.11', ttl: 60 },
  { name: 'host.example.test', type: 'AAAA', data: '::1' },
  { name: 'example.test', type: 'MX', data: { preference: 10, exchange: 'host.example.test' } },
  { name: 'example.test', type: 'MX', data: '20 backup.example.test' },
  { name: 'example.test', type: 'TXT', data: ['v=spf1 ip4:127.0.0.0/8', ' -all'] },
  { name: 'example.test', type: 'NS', data: 'ns.example.test' },
  { name: 'example.test', type: 'SOA', data: 'ns.example.test hostmaster.example.test 1 3600 600 86400 30', ttl: 600 },
  { name: 'nullmx.test', type: 'MX', data: { preference: 0, exchange: '.' } },
  { name: 'alias.example.test', type: 'CNAME', data: 'alias2.example.test', ttl: 40 },
  { name: 'alias2.example.test', type: 'CNAME', data: 'host.example.test' },
  { name: 'loop1.example.test', type: 'CNAME', data: 'loop2.example.test' },
  { name: 'loop2.example.test', type: 'CNAME', data: 'loop1.example.test' },
  { name: '10.0.0.127.in-addr.arpa', type: 'PTR', data: 'host.example.test' },
  { name: '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa', type: 'PTR', data: 'v6.example.test' },
  { name: 'deep.below.empty.example.test', type: 'A', data: '127.0.0.12' },
  { name: 'big.example.test', type: 'TXT', data: 'x'.repeat(2000) },
];

/** A server with ZONE (or `records`) and a resolver pointed at it; both cleaned up by `t`. */
async function setup(t: T, o: Partial<ResolverOptions> = {}, records = ZONE): Promise<{ dns: TestDns; r: ReturnType<typeof createResolver> }> {
  const dns = await startDnsServer(t, { records });
  const r = createResolver({ servers: [dns.server], timeoutMs: 3000, attemptTimeoutMs: 1000, ...o });
  return { dns, r };
}

const addresses = (res: DnsResult) => (res.kind === 'answer' ? res.records.map((x) => ('address' in x ? x.address : '?')).sort() : res.kind);

test('answer: A, AAAA, MX, TXT, NS with their TTLs', async (t) => {
  const { r } = await setup(t);
  assert.deepEqual(await r.lookup('host.example.test', 'A'), {
    kind: 'answer',
    records: [{ type: 'A', address: '127.0.0.10', ttl: 120 }, { type: 'A', address: '127.0.0.11', ttl: 60 }],
  });
  assert.deepEqual(await r.lookup('host.example.test', 'AAAA'), { kind: 'answer', records: [{ type: 'AAAA', address: '::1', ttl: 300 }] });
  const mx = await r.lookup('example.test', 'MX');
  assert.equal(mx.kind, 'answer');
  assert.deepEqual(mx.kind === 'answer' && mx.records.map((x) => x.type === 'MX' && `${x.preference} ${x.exchange}`).sort(),
    ['10 host.example.test', '20 backup.example.test']);
  // The character-strings of one TXT record are joined without a separator.
  assert.deepEqual(await r.lookup('example.test', 'TXT'), { kind: 'answer', records: [{ type: 'TXT', text: 'v=spf1 ip4:127.0.0.0/8 -all', ttl: 300 }] });
  assert.deepEqual(await r.lookup('example.test', 'NS'), { kind: 'answer', records: [{ type: 'NS', name: 'ns.example.test', ttl: 300 }] });
  const soa = await r.lookup('example.test', 'SOA');
  assert.equal(soa.kind === 'answer' && soa.records[0]?.type === 'SOA' && soa.records[0].minimum, 30);
});

test('a null MX (RFC 7505) keeps its exchange "."', async (t) => {
  const { r } = await setup(t);
  assert.deepEqual(await r.lookup('nullmx.test', 'MX'), { kind: 'answer', records: [{ type: 'MX', preference: 0, exchange: '.', ttl: 300 }] });
});

test('nxdomain and nodata are answers, kept apart, and not temporary', async (t) => {
  const { r } = await setup(t);
  const nx = await r.lookup('missing.example.test', 'A');
  assert.deepEqual(nx, { kind: 'nxdomain' });
  assert.equal(isTemporary(nx), false);
  assert.deepEqual(await r.lookup('host.example.test', 'MX'), { kind: 'nodata' });
  // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
  assert.deepEqual(await r.lookup('empty.example.test', 'A'), { kind: 'nodata' });
  assert.deepEqual(await r.lookup('below.empty.example.test', 'A'), { kind: 'nodata' });
});

test('names are case-insensitive, a trailing dot is tolerated, and one cache entry serves all spellings', async (t) => {
  const { dns, r } = await setup(t);
  assert.deepEqual(addresses(await r.lookup('HOST.Example.TEST.', 'A')), ['127.0.0.10', '127.0.0.11']);
  assert.deepEqual(addresses(await r.lookup('host.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
  assert.equal(dns.queries().length, 1);
});

test('a non-ASCII or malformed name is an error without a query', async (t) => {
  const { dns, r } = await setup(t);
  for (const name of ['bücher.example.test', 'a..example.test', `${'x'.repeat(64)}.test`, `${'abcdefghi.'.repeat(26)}test`, 'sp ace.test']) {
    const res = await r.lookup(name, 'A');
    assert.equal(res.kind, 'error', name);
    assert.equal(isTemporary(res), true);
  }
  assert.equal((await r.reverse('not-an-ip')).kind, 'error');
  assert.equal((await r.reverse('127.1')).kind, 'error');
  assert.equal(dns.queries().length, 0);
});

test('CNAME chains are followed and only the target type is returned; a CNAME query gets the CNAME', async (t) => {
  const { r } = await setup(t);
  assert.deepEqual(addresses(await r.lookup('alias.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
  assert.deepEqual(await r.lookup('alias.example.test', 'CNAME'), { kind: 'answer', records: [{ type: 'CNAME', name: 'alias2.example.test', ttl: 40 }] });
  assert.deepEqual(await r.lookup('alias.example.test', 'MX'), { kind: 'nodata' });
  const loop = await r.lookup('loop1.example.test', 'A');
  assert.equal(loop.kind, 'error');
});

test('a CNAME to a name the answer says nothing more about is chased with a second query', async (t) => {
  // A hand-made server that, like an authoritative server for only part of the chain, answers
  // out.test with the CNAME alone (no SOA), and in.other.test with its address.
  const sock = createSocket('udp4');
  const seen: string[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = packet.decode(msg);
    const question = q.questions![0]!;
    seen.push(question.name);
    const answers: packet.Answer[] = question.name === 'out.test'
      ? [{ type: 'CNAME', name: 'out.test', ttl: 50, data: 'in.other.test' }]
      : [{ type: 'A', name: question.name, ttl: 70, data: '127.0.0.20' }];
    sock.send(packet.encode({ type: 'response', id: q.id, flags: packet.AUTHORITATIVE_ANSWER, questions: [question], answers }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  let now = 0;
  const r = createResolver({ servers: [`127.0.0.1:${sock.address().port}`], now: () => now });
  assert.deepEqual(await r.lookup('out.test', 'A'), { kind: 'answer', records: [{ type: 'A', address: '127.0.0.20', ttl: 70 }] });
  assert.deepEqual(seen, ['out.test', 'in.other.test']);
  // Cached for the smallest TTL of the chain (the CNAME's 50 s).
  now += 49_000;
  await r.lookup('out.test', 'A');
  assert.equal(seen.length, 2);
  now += 2_000;
  await r.lookup('out.test', 'A');
  assert.deepEqual(seen.slice(2), ['out.test']);   // the target's own entry (70 s) is still fresh
});

test('reverse: PTR of IPv4, IPv6 and IPv4-mapped addresses', async (t) => {
  const { dns, r } = await setup(t);
  assert.deepEqual(await r.reverse('127.0.0.10'), { kind: 'answer', records: [{ type: 'PTR', name: 'host.example.test', ttl: 300 }] });
  assert.deepEqual(await r.reverse('::ffff:127.0.0.10'), { kind: 'answer', records: [{ type: 'PTR', name: 'host.example.test', ttl: 300 }] });
  assert.deepEqual(await r.reverse('::1'), { kind: 'answer', records: [{ type: 'PTR', name: 'v6.example.test', ttl: 300 }] });
  assert.deepEqual(await r.reverse('127.0.0.99'), { kind: 'nxdomain' });
  assert.deepEqual(dns.queries().map((q) => q.name).slice(0, 1), ['10.0.0.127.in-addr.arpa']);
});

test('servfail, refused, garbage and timeout are distinct temporary results', async (t) => {
  const { dns, r } = await setup(t, { timeoutMs: 1500, attemptTimeoutMs: 500, temporaryTtl: 0 });
  dns.setBehaviour('sf.example.test', 'servfail');
  dns.setBehaviour('rf.example.test', 'refused');
  dns.setBehaviour('gb.example.test', 'garbage');
  dns.setBehaviour('to.example.test', 'timeout');
  const sf = await r.lookup('x.sf.example.test', 'A');
  const rf = await r.lookup('rf.example.test', 'TXT');
  const gb = await r.lookup('gb.example.test', 'A');
  const to = await r.lookup('to.example.test', 'A');
  assert.deepEqual(sf, { kind: 'servfail' });
  assert.deepEqual(rf, { kind: 'refused', rcode: 'REFUSED' });
  assert.equal(gb.kind, 'error');
  assert.match(gb.kind === 'error' ? gb.detail : '', /malformed/);
  assert.deepEqual(to, { kind: 'timeout' });
  for (const res of [sf, rf, gb, to]) assert.equal(isTemporary(res), true, res.kind);
  // Behaviour cleared: the same names answer again (temporary results were not cached).
  dns.setBehaviour('to.example.test', undefined);
  assert.deepEqual(await r.lookup('to.example.test', 'A'), { kind: 'nxdomain' });
});

test('a lookup against a silent server ends within its timeout', async (t) => {
  const { dns, r } = await setup(t, { timeoutMs: 400, attemptTimeoutMs: 100 });
  dns.setBehaviour('example.test', 'timeout');
  const start = Date.now();
  assert.deepEqual(await r.lookup('host.example.test', 'A'), { kind: 'timeout' });
  // Generous bound: the point is "bounded", not "fast".
  assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
  // Retried (two rounds over one server), but never more than the rounds allow.
  assert.equal(dns.queries().length, 2);
});

test('a slow answer within the attempt timeout is used', async (t) => {
  const { dns, r } = await setup(t);
  dns.setBehaviour('host.example.test', { delayMs: 50 });
  assert.deepEqual(addresses(await r.lookup('host.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
});

test('truncated UDP answers are retried over TCP', async (t) => {
  const { dns, r } = await setup(t);
  dns.setBehaviour('host.example.test', 'truncate');
  assert.deepEqual(addresses(await r.lookup('host.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
  assert.deepEqual(dns.queries().map((q) => q.transport), ['udp', 'tcp']);
  // An answer larger than the announced EDNS size is truncated by the server itself.
  const big = await r.lookup('big.example.test', 'TXT');
  assert.equal(big.kind === 'answer' && big.records[0]?.type === 'TXT' && big.records[0].text.length, 2000);
  assert.deepEqual(dns.queries().slice(2).map((q) => q.transport), ['udp', 'tcp']);
});

test('answers with a wrong id or another question are ignored (anti-spoofing)', async (t) => {
  const { dns, r } = await setup(t);
  dns.setBehaviour('host.example.test', 'spoof');
  // The forged answers carry 127.66.66.66 and arrive first; the real answer comes 20 ms later.
  assert.deepEqual(addresses(await r.lookup('host.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
  assert.equal(dns.queries().length, 1);
});

test('concurrent identical lookups share one query', async (t) => {
  const { dns, r } = await setup(t);
  dns.setBehaviour('host.example.test', { delayMs: 100 });
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => r.lookup(i % 2 ? 'host.example.test' : 'HOST.example.test.', 'A')));
  for (const res of all) assert.deepEqual(addresses(res), ['127.0.0.10', '127.0.0.11']);
  assert.equal(dns.queries().filter((q) => q.name === 'host.example.test' && q.type === 'A').length, 1);
  // A different type is a different question.
  await Promise.all([r.lookup('host.example.test', 'AAAA'), r.lookup('host.example.test', 'AAAA')]);
  assert.equal(dns.queries().length, 2);
});

test('answers are cached for their smallest TTL and asked again after it expires', async (t) => {
  const { dns, r } = await setup(t, {}, [{ name: 'short.test', type: 'A', data: '127.0.0.1', ttl: 1 }]);
  assert.equal((await r.lookup('short.test', 'A')).kind, 'answer');
  assert.equal((await r.lookup('short.test', 'A')).kind, 'answer');
  assert.equal(dns.queries().length, 1, 'second lookup came from the cache');
  dns.setRecords([{ name: 'short.test', type: 'A', data: '127.0.0.2', ttl: 1 }]);
  await sleep(1300);   // TTL + margin
  assert.deepEqual(addresses(await r.lookup('short.test', 'A')), ['127.0.0.2']);
  assert.equal(dns.queries().length, 2);
});

test('cached records show their remaining TTL; the cache clock decides expiry', async (t) => {
  let now = 1_000_000;
  const { dns, r } = await setup(t, { now: () => now });
  await r.lookup('host.example.test', 'A');
  now += 30_000;
  const res = await r.lookup('host.example.test', 'A');
  assert.deepEqual(res.kind === 'answer' && res.records.map((x) => x.ttl), [90, 30]);
  now += 30_000;   // the smallest TTL (60 s) has run out
  await r.lookup('host.example.test', 'A');
  assert.equal(dns.queries().length, 2);
});

test('positive TTLs are capped by maxTtl', async (t) => {
  let now = 0;
  const { dns, r } = await setup(t, { now: () => now, maxTtl: 10 });
  await r.lookup('host.example.test', 'AAAA');           // TTL 300
  now += 9_000;
  await r.lookup('host.example.test', 'AAAA');
  assert.equal(dns.queries().length, 1);
  now += 2_000;
  await r.lookup('host.example.test', 'AAAA');
  assert.equal(dns.queries().length, 2);
});

test('negative answers are cached for min(SOA TTL, MINIMUM), capped, and not at all without SOA', async (t) => {
  let now = 0;
  const { dns, r } = await setup(t, { now: () => now, negativeMaxTtl: 3600 });
  // example.test's SOA: TTL 600, MINIMUM 30 -> 30 s.
  assert.deepEqual(await r.lookup('gone.example.test', 'A'), { kind: 'nxdomain' });
  assert.deepEqual(await r.lookup('host.example.test', 'TXT'), { kind: 'nodata' });
  now += 29_000;
  assert.deepEqual(await r.lookup('gone.example.test', 'A'), { kind: 'nxdomain' });
  assert.deepEqual(await r.lookup('host.example.test', 'TXT'), { kind: 'nodata' });
  assert.equal(dns.queries().length, 2);
  dns.addRecords([{ name: 'gone.example.test', type: 'A', data: '127.0.0.30' }]);
  now += 2_000;
  assert.deepEqual(addresses(await r.lookup('gone.example.test', 'A')), ['127.0.0.30']);
  assert.equal(dns.queries().length, 3);

  // Outside example.test the server makes up an SOA whose MINIMUM is its negative TTL.
  dns.setNegativeTtl(100);
  const capped = createResolver({ servers: [dns.server], now: () => now, negativeMaxTtl: 5 });
  await capped.lookup('nothing.test', 'A');
  now += 4_000;
  await capped.lookup('nothing.test', 'A');
  assert.equal(dns.queries().length, 4);
  now += 2_000;
  await capped.lookup('nothing.test', 'A');
  assert.equal(dns.queries().length, 5, 'the cap of 5 s ended the 100 s negative TTL');

  // An SOA with MINIMUM 0 means: do not cache.
  dns.setNegativeTtl(0);
  await capped.lookup('nothing2.test', 'A');
  await capped.lookup('nothing2.test', 'A');
  assert.equal(dns.queries().length, 7);
});

test('temporary failures are remembered only briefly', async (t) => {
  let now = 0;
  const { dns, r } = await setup(t, { now: () => now, temporaryTtl: 5 });
  dns.setBehaviour('example.test', 'servfail');
  assert.deepEqual(await r.lookup('host.example.test', 'A'), { kind: 'servfail' });
  const asked = dns.queries().length;
  assert.equal(asked, 2, 'one server, two rounds');
  assert.deepEqual(await r.lookup('host.example.test', 'A'), { kind: 'servfail' });
  assert.equal(dns.queries().length, asked, 'remembered');
  dns.setBehaviour('example.test', undefined);
  now += 6_000;
  assert.equal((await r.lookup('host.example.test', 'A')).kind, 'answer');
});

test('the cache is bounded: the least recently used entry goes first', async (t) => {
  const { dns, r } = await setup(t, { cacheSize: 2 });
  await r.lookup('host.example.test', 'A');      // [A]
  await r.lookup('host.example.test', 'AAAA');   // [A, AAAA]
  await r.lookup('host.example.test', 'A');      // hit -> [AAAA, A]
  await r.lookup('example.test', 'MX');          // evicts AAAA -> [A, MX]
  assert.equal(dns.queries().length, 3);
  await r.lookup('host.example.test', 'A');      // still cached
  assert.equal(dns.queries().length, 3);
  await r.lookup('host.example.test', 'AAAA');   // evicted: asked again
  assert.equal(dns.queries().length, 4);
  r.clearCache();
  await r.lookup('host.example.test', 'A');
  assert.equal(dns.queries().length, 5);
});

test('cacheSize 0 turns the cache off', async (t) => {
  const { dns, r } = await setup(t, { cacheSize: 0 });
  await r.lookup('host.example.test', 'A');
  await r.lookup('host.example.test', 'A');
  assert.equal(dns.queries().length, 2);
});

test('servers are tried in order: a dead first server, then a silent one, then one that answers', async (t) => {
  const dead = await startDnsServer(t, { records: [] });
  const deadServer = dead.server;
  await dead.close();                               // nothing listens there any more
  const silent = await startDnsServer(t, { records: ZONE });
  silent.setBehaviour('', 'timeout');               // the root: every name
  const good = await startDnsServer(t, { records: ZONE });
  const r = createResolver({ servers: [deadServer, silent.server, good.server], timeoutMs: 5000, attemptTimeoutMs: 400 });
  assert.deepEqual(addresses(await r.lookup('host.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
  assert.equal(silent.queries().length, 1);
  assert.equal(good.queries().length, 1);
});

test('a SERVFAIL from the first server moves on to the second; when all fail the last failure is told', async (t) => {
  const a = await startDnsServer(t, { records: ZONE });
  const b = await startDnsServer(t, { records: ZONE });
  a.setBehaviour('example.test', 'servfail');
  const r = createResolver({ servers: [a.server, b.server], temporaryTtl: 0 });
  assert.equal((await r.lookup('host.example.test', 'A')).kind, 'answer');
  b.setBehaviour('example.test', 'refused');
  assert.deepEqual(await r.lookup('example.test', 'MX'), { kind: 'refused', rcode: 'REFUSED' });
  assert.equal(a.queries().length, 3);   // once for the first lookup, twice (two rounds) for the second
  assert.equal(b.queries().length, 3);
});

test('all servers dead: an error naming the unreachable server, well before the timeout', async (t) => {
  const dead = await startDnsServer(t, { records: [] });
  await dead.close();
  const r = createResolver({ servers: [dead.server], timeoutMs: 5000, attemptTimeoutMs: 2000 });
  const start = Date.now();
  const res = await r.lookup('host.example.test', 'A');
  assert.equal(res.kind, 'error');
  assert.match(res.kind === 'error' ? res.detail : '', /unreachable/);
  assert.ok(Date.now() - start < 4000);
});

test('an IPv6 loopback server works, written [::1]:port', async (t) => {
  let dns: TestDns;
  try { dns = await startDnsServer(t, { records: ZONE, host: '::1' }); } catch (e) {
    t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
    return;
  }
  assert.match(dns.server, /^\[::1\]:\d+$/);
  const r = createResolver({ servers: [dns.server] });
  assert.deepEqual(addresses(await r.lookup('host.example.test', 'A')), ['127.0.0.10', '127.0.0.11']);
});
