/** The test DNS server itself, seen on the wire with a raw client: what other suites rely on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as packet from 'dns-packet';
import { startDnsServer, type TestDns } from '../helpers/dns-server.js';

type Reply = packet.DecodedPacket & { rcode: string };

/** One raw UDP query; resolves with the decoded reply, or undefined after `ms`. */
function ask(dns: TestDns, name: string, type: packet.RecordType, ms = 500): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => { s.close(); resolve(undefined); }, ms);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      try { resolve(packet.decode(m) as Reply); } catch { resolve({ rcode: 'UNDECODABLE' } as Reply); }
    });
    s.send(packet.encode({ type: 'query', id: 4242, flags: packet.RECURSION_DESIRED, questions: [{ name, type }] }), dns.port, dns.host);
  });
}

function askTcp(dns: TestDns, name: string, type: packet.RecordType): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = connect(dns.port, dns.host);
    let buf = Buffer.alloc(0);
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Reply);
      }
    });
    const q = packet.encode({ type: 'query', id: 7, questions: [{ name, type }] });
    const hdr = Buffer.alloc(2);
    hdr.writeUInt16BE(q.length);
    s.write(Buffer.concat([hdr, q]));
  });
}

const ZONE = [
  { name: 'mx.example.test', type: 'A' as const, data: '127.0.0.25' },
  { name: 'www.example.test', type: 'CNAME' as const, data: 'mx.example.test', ttl: 60 },
  { name: '2.0.0.127.zen.dnsbl.test', type: 'A' as const, data: '127.0.0.2' },
  { name: '2.0.0.127.zen.dnsbl.test', type: 'TXT' as const, data: 'listed' },
  { name: 'zone.test', type: 'SOA' as const, data: 'ns.zone.test admin.zone.test 7 3600 600 86400 45', ttl: 20 },
];

test('answers, NODATA and NXDOMAIN, with an SOA in negative answers', async (t) => {
  const dns = await startDnsServer(t, { records: ZONE, negativeTtl: 12 });
  assert.match(dns.server, /^127\.0\.0\.1:\d+$/);
  const a = await ask(dns, 'MX.Example.Test', 'A');
  assert.equal(a?.rcode, 'NOERROR');
  assert.equal(a?.flag_aa, true);
  assert.deepEqual(a?.answers?.map((x) => [x.type, 'data' in x ? x.data : null]), [['A', '127.0.0.25']]);

  const nodata = await ask(dns, 'mx.example.test', 'MX');
  assert.equal(nodata?.rcode, 'NOERROR');
  assert.equal(nodata?.answers?.length, 0);
  const soa = nodata?.authorities?.[0] as packet.SoaAnswer;
  assert.equal(soa.type, 'SOA');
  assert.equal(soa.name, 'test');            // made up at the last label
  assert.equal(soa.data.minimum, 12);
  assert.equal(soa.ttl, 12);

  // Empty non-terminal: exists, so NODATA.
  assert.equal((await ask(dns, 'example.test', 'A'))?.rcode, 'NOERROR');
  assert.equal((await ask(dns, 'zen.dnsbl.test', 'A'))?.rcode, 'NOERROR');
  const nx = await ask(dns, '3.0.0.127.zen.dnsbl.test', 'A');
  assert.equal(nx?.rcode, 'NXDOMAIN');
  assert.equal(nx?.authorities?.[0]?.type, 'SOA');

  // A declared SOA is used for its zone, its TTL lowered to MINIMUM if larger (RFC 2308 §3).
  const z = await ask(dns, 'nothing.zone.test', 'A');
  const zs = z?.authorities?.[0] as packet.SoaAnswer;
  assert.equal(z?.rcode, 'NXDOMAIN');
  assert.equal(zs.name, 'zone.test');
  assert.equal(zs.data.minimum, 45);
  assert.equal(zs.ttl, 20);

  dns.setNegativeTtl(3);
  const later = await ask(dns, 'missing.example.test', 'A');
  assert.equal((later?.authorities?.[0] as packet.SoaAnswer).data.minimum, 3);
});

test('CNAMEs are chased inside the zone', async (t) => {
  const dns = await startDnsServer(t, { records: ZONE });
  const r = await ask(dns, 'www.example.test', 'A');
  assert.deepEqual(r?.answers?.map((x) => `${x.name} ${x.type}`), ['www.example.test CNAME', 'mx.example.test A']);
  const c = await ask(dns, 'www.example.test', 'CNAME');
  assert.deepEqual(c?.answers?.map((x) => x.type), ['CNAME']);
});

test('records can be replaced and added; queries are logged', async (t) => {
  const dns = await startDnsServer(t, { records: ZONE });
  assert.equal((await ask(dns, 'new.test', 'A'))?.rcode, 'NXDOMAIN');
  dns.addRecords([{ name: 'new.test.', type: 'A', data: '127.0.0.9' }]);
  assert.equal((await ask(dns, 'new.test', 'A'))?.answers?.length, 1);
  assert.equal((await ask(dns, 'mx.example.test', 'A'))?.answers?.length, 1);
  dns.setRecords([{ name: 'only.test', type: 'TXT', data: 'x' }]);
  assert.equal((await ask(dns, 'mx.example.test', 'A'))?.rcode, 'NXDOMAIN');
  assert.deepEqual(dns.queries().map((q) => `${q.name}/${q.type}/${q.transport}`),
    ['new.test/A/udp', 'new.test/A/udp', 'mx.example.test/A/udp', 'mx.example.test/A/udp']);
  dns.clearQueries();
  assert.deepEqual(dns.queries(), []);
});

test('a behaviour covers the name and every name below it; the longest match wins', async (t) => {
  const dns = await startDnsServer(t, { records: ZONE });
  dns.setBehaviour('dnsbl.test', 'refused');
  dns.setBehaviour('zen.dnsbl.test', 'servfail');
  assert.equal((await ask(dns, 'dnsbl.test', 'A'))?.rcode, 'REFUSED');
  assert.equal((await ask(dns, 'other.dnsbl.test', 'A'))?.rcode, 'REFUSED');
  assert.equal((await ask(dns, '2.0.0.127.zen.dnsbl.test', 'A'))?.rcode, 'SERVFAIL');
  assert.equal((await ask(dns, 'mx.example.test', 'A'))?.rcode, 'NOERROR');
  assert.equal((await ask(dns, 'xdnsbl.test', 'A'))?.rcode, 'NXDOMAIN', 'a suffix match is by label');
  dns.setBehaviour('zen.dnsbl.test', undefined);
  assert.equal((await ask(dns, '2.0.0.127.zen.dnsbl.test', 'A'))?.rcode, 'REFUSED');

  dns.setBehaviour('example.test', 'timeout');
  assert.equal(await ask(dns, 'mx.example.test', 'A', 200), undefined);
  dns.setBehaviour('example.test', 'garbage');
  assert.equal((await ask(dns, 'mx.example.test', 'A'))?.rcode, 'UNDECODABLE');
  dns.setBehaviour('example.test', { delayMs: 30 });
  assert.equal((await ask(dns, 'mx.example.test', 'A'))?.answers?.length, 1);
});

test('truncate: TC and no records over UDP, the full answer over TCP', async (t) => {
  const dns = await startDnsServer(t, { records: ZONE });
  dns.setBehaviour('mx.example.test', 'truncate');
  const u = await ask(dns, 'mx.example.test', 'A');
  assert.equal(u?.flag_tc, true);
  assert.equal(u?.answers?.length, 0);
  const tcp = await askTcp(dns, 'mx.example.test', 'A');
  assert.equal(tcp.flag_tc, false);
  assert.deepEqual(tcp.answers?.map((x) => 'data' in x && x.data), ['127.0.0.25']);
  assert.deepEqual(dns.queries().map((q) => q.transport), ['udp', 'tcp']);
});

test('close frees the port; startDnsServer refuses a non-loopback host', async (t) => {
  const dns = await startDnsServer(t, { records: ZONE });
  await dns.close();
  assert.equal(await ask(dns, 'mx.example.test', 'A', 200), undefined);
  await dns.close();   // idempotent
  await assert.rejects(startDnsServer(t, { records: ZONE, host: '192.0.2.1' }), /not a loopback/);
});

test('a fixed port on another loopback address (as Postfix needs port 53)', async (t) => {
  // 127.0.84.1, not the differential suite's 127.0.83.1: the two may run at the same time.
  // Binding port 53 needs root; elsewhere the test is skipped unless system dependencies are required.
  let dns: TestDns;
  try {
    dns = await startDnsServer(t, { records: ZONE, host: '127.0.84.1', port: 53 });
  } catch (e) {
    if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw e;
    t.skip(`cannot bind 127.0.84.1:53 here: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return;
  }
  assert.equal(dns.server, '127.0.84.1:53');
  assert.equal((await ask(dns, 'mx.example.test', 'A'))?.answers?.length, 1);
});
