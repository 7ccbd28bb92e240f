/**
 * @module test/helpers/dns-server
 * A real authoritative DNS server for tests: UDP and TCP on one loopback port, answering from
 * zones declared in code, with fault injection per name (and every name below it).
 *
 * Semantics (RFC 1034 §4.3.2, RFC 2308):
 * - a name with records of the asked type: NOERROR with those records (AA set);
 * - a CNAME at the name (and a type other than CNAME asked): the CNAME, then the target's
 *   records if the target is in the zone, chased up to 8 hops;
 * - a name that has other types, or has records below it (an empty non-terminal): NOERROR with
 *   an empty answer (NODATA);
 * - anything else: NXDOMAIN;
 * - negative answers carry an SOA in the authority section: the nearest SOA record declared at
 *   or above the name, or else a made-up one at the name's last label. Its MINIMUM (and TTL)
 *   is `negativeTtl` (default 30 s), which is what RFC 2308 caches negative answers for.
 *
 * An answer larger than the client's UDP size (512, or its EDNS0 size) is truncated (TC set, no
 * records), as a real server does. Nothing is ever sent to an address outside loopback.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as packet from 'dns-packet';
import { clearDnsCache } from '../../src/dns/index.js';
import { clearListHealth } from '../../src/dnsbl/index.js';

export interface ZoneRecord {
  name: string;
  type: 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'NS' | 'CNAME' | 'SOA';
  /**
   * A/AAAA: the address; PTR/NS/CNAME: the target name; MX: `{preference, exchange}` or
   * "10 mx.example.test"; TXT: one string or the strings of one record (a string longer than
   * 255 bytes is split); SOA: "mname rname [serial refresh retry expire minimum]".
   */
  data: string | { preference: number; exchange: string } | string[];
  /** Seconds; default 300. */
  ttl?: number;
}

export type Behaviour =
  | 'servfail'
  | 'refused'
  | 'timeout'   /* never answer */
  | 'garbage'   /* the query's id, then bytes that do not decode as a DNS message */
  | 'truncate'  /* TC bit over UDP, full answer over TCP */
  /**
   * First a forged answer with a wrong id, then one with the right id but another question, then
   * the real answer: a resolver must ignore the first two (both carry A 127.66.66.66).
   */
  | 'spoof'
  | { delayMs: number };

export interface QueryLogEntry { name: string; type: string; at: number; transport: 'udp' | 'tcp' }

export interface TestDns {
  host: string;
  port: number;
  /** "host:port" ("[::1]:port" for IPv6), for mxguard_dns_servers. */
  server: string;
  setRecords(r: ZoneRecord[]): void;
  addRecords(r: ZoneRecord[]): void;
  /** A behaviour for `nameOrSuffix` and every name below it (the longest match wins); undefined clears. */
  setBehaviour(nameOrSuffix: string, b: Behaviour | undefined): void;
  /** MINIMUM and TTL of the SOA in negative answers (RFC 2308 negative caching time). */
  setNegativeTtl(seconds: number): void;
  /** Every query received, in order; names lower case without the trailing dot. */
  queries(): QueryLogEntry[];
  clearQueries(): void;
  close(): Promise<void>;
}

export interface DnsServerOptions {
  records: ZoneRecord[];
  /** Loopback only: 127.0.0.0/8 or ::1. Default 127.0.0.1. */
  host?: string;
  /** 0 or absent: a free port (the same one for UDP and TCP). 53 is allowed (needs root). */
  port?: number;
  /** Default 30 s. */
  negativeTtl?: number;
}

const DEFAULT_TTL = 300;

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/** Whether `name` is `suffix` or below it. */
function within(name: string, suffix: string): boolean {
  return suffix === '' || name === suffix || name.endsWith(`.${suffix}`);
}

function toAnswer(r: ZoneRecord, owner = r.name): packet.Answer {
  const ttl = r.ttl ?? DEFAULT_TTL;
  const name = owner;
  switch (r.type) {
    case 'A': case 'AAAA': case 'PTR': case 'NS': case 'CNAME':
      if (typeof r.data !== 'string') throw new Error(`dns-server: ${r.type} ${r.name} needs a string`);
      return { type: r.type, name, ttl, data: r.data };
    case 'MX': {
      let mx: { preference: number; exchange: string };
      if (typeof r.data === 'string') {
        const [pref, exchange] = r.data.trim().split(/\s+/);
        mx = { preference: Number(pref), exchange: exchange ?? '.' };
      } else if (Array.isArray(r.data)) {
        throw new Error(`dns-server: MX ${r.name} needs {preference, exchange}`);
      } else {
        mx = r.data;
      }
      return { type: 'MX', name, ttl, data: mx };
    }
    case 'TXT': {
      const parts = (Array.isArray(r.data) ? r.data : [typeof r.data === 'string' ? r.data : ''])
        .flatMap((s) => {
          const b = Buffer.from(s, 'utf8');
          if (b.length <= 255) return [b];
          const chunks: Buffer[] = [];
          for (let i = 0; i < b.length; i += 255) chunks.push(b.subarray(i, i + 255));
          return chunks;
        });
      return { type: 'TXT', name, ttl, data: parts };
    }
    case 'SOA': {
      if (typeof r.data !== 'string') throw new Error(`dns-server: SOA ${r.name} needs a string`);
      const f = r.data.trim().split(/\s+/);
      const n = (i: number, d: number) => (f[i] !== undefined ? Number(f[i]) : d);
      return {
        type: 'SOA', name, ttl,
        data: { mname: f[0] ?? 'ns.test', rname: f[1] ?? 'hostmaster.test', serial: n(2, 1), refresh: n(3, 3600), retry: n(4, 600), expire: n(5, 86400), minimum: n(6, 30) },
      };
    }
  }
}

export async function startDnsServer(
  t: { after(fn: () => unknown): void },
  opts: DnsServerOptions,
): Promise<TestDns> {
  // A new server may get the port of one a previous test closed: cached answers and list health
  // that name that address would leak into this test.
  clearDnsCache();
  clearListHealth();
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`dns-server: ${host} is not a loopback address`);
  const family = isIP(host) === 6 ? 'udp6' : 'udp4';

  let records: ZoneRecord[] = [];
  const setRecords = (r: ZoneRecord[]) => { records = r.map((x) => ({ ...x, name: norm(x.name) })); };
  setRecords(opts.records);
  let negativeTtl = opts.negativeTtl ?? 30;
  const behaviours = new Map<string, Behaviour>();
  const log: QueryLogEntry[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let closed = false;

  const later = (ms: number, fn: () => void) => {
    const h = setTimeout(() => { timers.delete(h); if (!closed) fn(); }, ms);
    timers.add(h);
  };

  function behaviourFor(name: string): Behaviour | undefined {
    let best: string | undefined;
    for (const k of behaviours.keys()) {
      if (within(name, k) && (best === undefined || k.length > best.length)) best = k;
    }
    return best === undefined ? undefined : behaviours.get(best);
  }

  function exists(name: string): boolean {
    return records.some((r) => within(r.name, name));
  }

  function negativeSoa(name: string): packet.Answer {
    // The nearest SOA at or above the name, else one made up at the name's last label.
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) {
      const owner = labels.slice(i).join('.');
      const soa = records.find((r) => r.type === 'SOA' && r.name === owner);
      if (soa) {
        const a = toAnswer(soa) as packet.SoaAnswer;
        // RFC 2308 §3: the SOA's TTL in a negative answer is min(TTL, MINIMUM).
        return { ...a, ttl: Math.min(a.ttl ?? DEFAULT_TTL, a.data.minimum ?? negativeTtl) };
      }
    }
    const apex = labels[labels.length - 1] ?? '';
    return {
      type: 'SOA', name: apex, ttl: negativeTtl,
      data: { mname: `ns.${apex || 'test'}`, rname: `hostmaster.${apex || 'test'}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: negativeTtl },
    };
  }

  /** The zone's answer to one question, CNAMEs chased. */
  function resolve(qname: string, qtype: string): { rcode: number; answers: packet.Answer[]; authorities: packet.Answer[] } {
    const answers: packet.Answer[] = [];
    let name = qname;
    for (let hop = 0; hop < 9; hop++) {
      const here = records.filter((r) => r.name === name);
      const match = here.filter((r) => r.type === qtype);
      if (match.length > 0) {
        answers.push(...match.map((r) => toAnswer(r, name)));
        return { rcode: 0, answers, authorities: [] };
      }
      const cname = here.find((r) => r.type === 'CNAME');
      if (cname && qtype !== 'CNAME' && hop < 8) {
        answers.push(toAnswer(cname, name));
        name = norm(cname.data as string);
        continue;
      }
      const rcode = exists(name) ? 0 : 3;
      return { rcode, answers, authorities: [negativeSoa(name)] };
    }
    return { rcode: 0, answers, authorities: [] };
  }

  function respond(query: packet.DecodedPacket, transport: 'udp' | 'tcp', send: (b: Buffer) => void): void {
    const q = query.questions?.[0];
    if (!q || query.type !== 'query') return;   // not a query: a server stays silent
    const qname = norm(q.name);
    log.push({ name: qname, type: q.type, at: Date.now(), transport });
    const b = behaviourFor(qname);
    const id = query.id ?? 0;
    const base = { type: 'response' as const, id, questions: [q] };
    const rd = query.flag_rd ? packet.RECURSION_DESIRED : 0;
    const encode = (flags: number, answers: packet.Answer[] = [], authorities: packet.Answer[] = []) =>
      packet.encode({ ...base, flags: flags | rd, answers, authorities });

    if (b === 'timeout') return;
    if (b === 'servfail') { send(encode(2)); return; }
    if (b === 'refused') { send(encode(5)); return; }
    if (b === 'garbage') {
      // Keeps the id (so a client cannot mistake it for a stray packet), then a header that
      // claims 65535 questions and too few bytes to hold them: never decodable.
      const g = Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0x84, 0x00, 0xff, 0xff]), randomBytes(8 + Math.floor(Math.random() * 24))]);
      send(g);
      return;
    }
    const r = resolve(qname, q.type);
    let full = encode(packet.AUTHORITATIVE_ANSWER | r.rcode, r.answers, r.authorities);
    if (transport === 'udp') {
      const opt = query.additionals?.find((a): a is packet.OptAnswer => a.type === 'OPT');
      const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
      if (b === 'truncate' || full.length > limit) full = encode(packet.AUTHORITATIVE_ANSWER | packet.TRUNCATED_RESPONSE | r.rcode);
    }
    if (b === 'spoof') {
      const fake: packet.Answer[] = [{ type: 'A', name: qname, ttl: 3600, data: '127.66.66.66' }];
      send(packet.encode({ ...base, id: (id + 1) & 0xffff, flags: packet.AUTHORITATIVE_ANSWER | rd, answers: fake }));
      send(packet.encode({ ...base, questions: [{ ...q, name: `x.${qname}` }], flags: packet.AUTHORITATIVE_ANSWER | rd, answers: fake }));
      later(20, () => send(full));
      return;
    }
    if (b !== undefined && typeof b === 'object') { later(b.delayMs, () => send(full)); return; }
    send(full);
  }

  // UDP
  const makeUdp = (): UdpSocket => {
    const u = createSocket({ type: family, reuseAddr: false });
    u.on('error', () => { /* a send to a closed client port; nothing to do */ });
    u.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (closed || !isLoopback(rinfo.address)) return;
      let query: packet.DecodedPacket;
      try { query = packet.decode(msg); } catch { return; }
      respond(query, 'udp', (b) => { if (!closed) u.send(b, rinfo.port, rinfo.address); });
    });
    return u;
  };
  let udp = makeUdp();

  // TCP (RFC 1035 §4.2.2: two-byte length prefix; several queries may share a connection)
  const tcp: Server = createServer((sock) => {
    if (closed || !isLoopback(sock.remoteAddress ?? '')) { sock.destroy(); return; }
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        let query: packet.DecodedPacket;
        try { query = packet.decode(msg); } catch { sock.destroy(); return; }
        respond(query, 'tcp', (b) => {
          if (closed || sock.destroyed) return;
          const hdr = Buffer.alloc(2);
          hdr.writeUInt16BE(b.length);
          sock.write(Buffer.concat([hdr, b]));
        });
      }
    });
  });

  const bindUdp = (u: UdpSocket, port: number) => new Promise<number>((resolve, reject) => {
    const onErr = (e: Error) => reject(e);
    u.once('error', onErr);
    u.bind(port, host, () => { u.off('error', onErr); resolve(u.address().port); });
  });
  const listenTcp = (port: number) => new Promise<void>((resolve, reject) => {
    const onErr = (e: Error) => { tcp.off('listening', onOk); reject(e); };
    const onOk = () => { tcp.off('error', onErr); resolve(); };
    tcp.once('error', onErr);
    tcp.once('listening', onOk);
    tcp.listen(port, host);
  });
  const closeUdp = (u: UdpSocket) => new Promise<void>((r) => { try { u.close(() => r()); } catch { r(); } });

  // UDP takes a free port first; TCP then takes the same number (a new pair if TCP has it in use).
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await bindUdp(udp, opts.port ?? 0);
    try { await listenTcp(port); break; } catch (e) {
      await closeUdp(udp);
      if (opts.port || attempt >= 20) throw e;
      udp = makeUdp();
    }
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      closed = true;
      for (const h of timers) clearTimeout(h);
      timers.clear();
      for (const s of sockets) s.destroy();
      await Promise.all([
        closeUdp(udp),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    })();
    return closing;
  };
  t.after(close);

  return {
    host,
    port,
    server: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`,
    setRecords,
    addRecords(r) { records = [...records, ...r.map((x) => ({ ...x, name: norm(x.name) }))]; },
    setBehaviour(nameOrSuffix, b) {
      const k = norm(nameOrSuffix);
      if (b === undefined) behaviours.delete(k); else behaviours.set(k, b);
    },
    setNegativeTtl(seconds) { negativeTtl = seconds; },
    queries: () => log.map((e) => ({ ...e })),
    clearQueries() { log.length = 0; },
    close,
  };
}
