/**
 * @module dns/resolver
 * mxguard's stub resolver: asks recursive servers (or, in tests, an authoritative one) over UDP
 * with TCP on truncation, and returns one DnsResult per lookup, never a throw.
 *
 * - Servers are tried in order, `attempts` rounds, each query bounded by the attempt timeout and
 *   the whole lookup by `timeoutMs`. An answer or a negative answer (NXDOMAIN, NODATA) ends the
 *   lookup; SERVFAIL, REFUSED (or another RCODE), a malformed answer, an unreachable server or
 *   silence moves on to the next server. When every try failed, the result is the last failure
 *   that was not silence, else a timeout.
 * - Cache: positive answers for their smallest TTL (CNAMEs in the chain included), capped by
 *   `maxTtl`; negative answers for min(SOA TTL, SOA MINIMUM) from the authority section
 *   (RFC 2308 §5), capped by `negativeMaxTtl`, and not at all without an SOA (RFC 2308 §5);
 *   temporary failures for `temporaryTtl` seconds, a short time on purpose: long enough that a
 *   dead server is not asked again at every connection of a burst, short enough that a
 *   recovered one is used almost at once (RFC 2308 §7.1 allows up to five minutes).
 * - Identical lookups in flight share one query (coalescing).
 * - CNAME chains are followed within the answer (at most 16 links); a chain that ends at a name
 *   the answer says nothing about (no records, no SOA) is continued with a new query, at most 8
 *   times. Only the records of the asked type are returned. A loop is an error.
 * - Names are case-insensitive and may end in a dot; a name that is not ASCII (a U-label) or
 *   breaks RFC 1035 lengths is an error at once, without a query.
 *
 * XXX: no DNSSEC validation (the AD bit of the server is not trusted either), and no 0x20 case
 * randomisation; both are the recursive server's job.
 */
import type * as packet from 'dns-packet';
import { DnsCache } from './cache.js';
import { normalizeName, reverseName } from './names.js';
import { parseServerList, systemServers, type DnsServer } from './servers.js';
import { queryServer, type Attempt } from './transport.js';
import type { DnsRecord, DnsResult, RecordType, Resolver } from './types.js';

export interface ResolverOptions {
  /** "1.2.3.4", "1.2.3.4:5353", "[::1]:53", or parsed servers; default: /etc/resolv.conf. */
  readonly servers?: readonly (string | DnsServer)[];
  /** Whole lookup, all servers and retries (ms); default 5000. */
  readonly timeoutMs?: number;
  /** One query to one server (ms); default 2000. */
  readonly attemptTimeoutMs?: number;
  /** Rounds over the server list; default 2. */
  readonly attempts?: number;
  /** Cached results; 0 turns the cache off. Default 10000. */
  readonly cacheSize?: number;
  /** Seconds; defaults 3600, 3600, 5. */
  readonly maxTtl?: number;
  readonly negativeMaxTtl?: number;
  readonly temporaryTtl?: number;
  /** EDNS0 UDP payload size announced (RFC 6891); 0 for none. Default 1232 (DNS flag day 2020). */
  readonly ednsSize?: number;
  /** Clock of the cache (ms since the epoch); tests may inject one. Timeouts use real time. */
  readonly now?: () => number;
}

export interface DnsResolver extends Resolver {
  readonly servers: readonly DnsServer[];
  /** Forgets every cached result (lookups in flight still finish and are cached). */
  clearCache(): void;
}

const TYPES: ReadonlySet<string> = new Set<RecordType>(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'NS', 'CNAME', 'SOA']);
const MAX_CHAIN = 16;
const MAX_CHASE = 8;

interface Outcome { readonly result: DnsResult; readonly ttl: number }

const norm = (n: string) => n.toLowerCase().replace(/\.$/, '');

/** toRecord - a decoded answer record in the engine's shape (undefined for other types). */
function toRecord(a: packet.Answer): DnsRecord | undefined {
  const ttl = 'ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0;
  switch (a.type) {
    case 'A': case 'AAAA': return { type: a.type, address: a.data, ttl };
    case 'PTR': case 'NS': case 'CNAME': return { type: a.type, name: a.data.replace(/\.$/, '') || '.', ttl };
    case 'MX':
      // A null MX (RFC 7505) keeps its exchange ".".
      return { type: 'MX', preference: a.data.preference ?? 0, exchange: a.data.exchange.replace(/(.)\.$/, '$1') || '.', ttl };
    case 'TXT': {
      // RFC 7208 §3.3: the character-strings of one record are joined without a separator.
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      return { type: 'TXT', text: parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join(''), ttl };
    }
    case 'SOA':
      return { type: 'SOA', mname: a.data.mname, rname: a.data.rname, serial: a.data.serial ?? 0, minimum: a.data.minimum ?? 0, ttl };
    default: return undefined;
  }
}

/** The negative-caching time of an answer: RFC 2308 §5, min(SOA TTL, SOA MINIMUM). */
function negativeTtl(m: packet.DecodedPacket): number {
  const soa = (m.authorities ?? []).find((a): a is packet.SoaAnswer => a.type === 'SOA');
  if (!soa) return 0;   // RFC 2308 §5: without an SOA a negative answer is not cached
  return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
}

type Interpretation = Outcome | { readonly chase: string; readonly ttl: number };

/** interpret - reads a NOERROR or NXDOMAIN answer to (qname, type), following CNAMEs in it. */
function interpret(m: packet.DecodedPacket, rcode: string, qname: string, type: RecordType): Interpretation {
  const answers = m.answers ?? [];
  let current = qname;
  let ttl = Infinity;
  const seen = new Set([qname]);
  for (let link = 0; ; link++) {
    const records = answers
      .filter((a) => a.type === type && norm(a.name) === current)
      .map(toRecord)
      .filter((r): r is DnsRecord => r !== undefined);
    if (records.length > 0) {
      return { result: { kind: 'answer', records }, ttl: Math.min(ttl, ...records.map((r) => r.ttl)) };
    }
    if (type === 'CNAME') break;
    const c = answers.find((a): a is packet.StringAnswer => a.type === 'CNAME' && norm(a.name) === current);
    if (!c) break;
    if (link >= MAX_CHAIN) return { result: { kind: 'error', detail: `CNAME chain of ${qname} longer than ${MAX_CHAIN}` }, ttl: 0 };
    ttl = Math.min(ttl, c.ttl ?? 0);
    current = norm(c.data);
    if (seen.has(current)) return { result: { kind: 'error', detail: `CNAME loop at ${current}` }, ttl: 0 };
    seen.add(current);
  }
  const neg = negativeTtl(m);
  const hasSoa = (m.authorities ?? []).some((a) => a.type === 'SOA');
  // The chain leads to a name this answer says nothing more about: ask for the target.
  if (current !== qname && rcode === 'NOERROR' && !hasSoa) return { chase: current, ttl };
  return { result: { kind: rcode === 'NXDOMAIN' ? 'nxdomain' : 'nodata' }, ttl: Math.min(ttl, neg) };
}

/** The temporary result an attempt leaves, or undefined when it is an answer. */
function failureOf(a: Attempt): DnsResult | undefined {
  switch (a.kind) {
    case 'timeout': return { kind: 'timeout' };
    case 'error': return { kind: 'error', detail: a.detail };
    case 'response':
      if (a.rcode === 'NOERROR' || a.rcode === 'NXDOMAIN') return undefined;
      if (a.rcode === 'SERVFAIL') return { kind: 'servfail' };
      return { kind: 'refused', rcode: a.rcode };
  }
}

const serverKey = (s: DnsServer) => `${s.address}#${s.port}`;

class StubResolver implements DnsResolver {
  readonly servers: readonly DnsServer[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly attempts: number;
  private readonly maxTtl: number;
  private readonly negativeMaxTtl: number;
  private readonly temporaryTtl: number;
  private readonly ednsSize: number;
  private readonly cache: DnsCache;
  private readonly inflight = new Map<string, Promise<DnsResult>>();
  /** Servers that answered FORMERR to EDNS0 (RFC 6891 §7): asked without it from then on. */
  private readonly noEdns = new Set<string>();

  constructor(o: ResolverOptions) {
    const given = o.servers ?? [];
    const specs = given.filter((s): s is string => typeof s === 'string');
    const parsed = given.filter((s): s is DnsServer => typeof s !== 'string');
    this.servers = given.length === 0 ? systemServers() : [...parseServerList(specs), ...parsed];
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.attemptTimeoutMs = Math.min(o.attemptTimeoutMs ?? 2000, this.timeoutMs);
    this.attempts = Math.max(1, o.attempts ?? 2);
    this.maxTtl = o.maxTtl ?? 3600;
    this.negativeMaxTtl = o.negativeMaxTtl ?? 3600;
    this.temporaryTtl = o.temporaryTtl ?? 5;
    this.ednsSize = o.ednsSize ?? 1232;
    this.cache = new DnsCache(o.cacheSize ?? 10000, o.now ?? Date.now);
  }

  clearCache(): void { this.cache.clear(); }

  async lookup(name: string, type: RecordType): Promise<DnsResult> {
    if (!TYPES.has(type)) return { kind: 'error', detail: `unsupported record type ${String(type)}` };
    const n = normalizeName(name);
    if (!n.ok) return { kind: 'error', detail: n.detail };
    const key = `${type} ${n.name}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = this.fetch(n.name, type, 0, performance.now() + this.timeoutMs)
      .then((o) => { this.store(key, o); return o.result; })
      .catch((e: unknown): DnsResult => ({ kind: 'error', detail: `resolver bug: ${String(e)}` }))
      .finally(() => { this.inflight.delete(key); });
    this.inflight.set(key, p);
    return p;
  }

  async reverse(address: string): Promise<DnsResult> {
    const name = reverseName(address);
    if (name === undefined) return { kind: 'error', detail: `not an IP address: ${JSON.stringify(address)}` };
    return this.lookup(name, 'PTR');
  }

  private store(key: string, o: Outcome): void {
    const k = o.result.kind;
    const ttl = k === 'answer' ? Math.min(o.ttl, this.maxTtl)
      : k === 'nxdomain' || k === 'nodata' ? Math.min(o.ttl, this.negativeMaxTtl)
      : this.temporaryTtl;
    this.cache.set(key, o.result, ttl);
  }

  /** fetch - asks the servers until one answers, or the rounds or the time run out. */
  private async fetch(name: string, type: RecordType, chased: number, deadline: number): Promise<Outcome> {
    let failure: DnsResult | undefined;
    for (let round = 0; round < this.attempts; round++) {
      for (const server of this.servers) {
        const left = deadline - performance.now();
        if (left <= 0) return { result: failure ?? { kind: 'timeout' }, ttl: this.temporaryTtl };
        const timeoutMs = Math.min(this.attemptTimeoutMs, left);
        const sk = serverKey(server);
        let a = await queryServer(server, name, type, { timeoutMs, ednsSize: this.noEdns.has(sk) ? 0 : this.ednsSize });
        if (a.kind === 'response' && a.rcode === 'FORMERR' && this.ednsSize > 0 && !this.noEdns.has(sk)) {
          this.noEdns.add(sk);
          const again = deadline - performance.now();
          if (again > 0) a = await queryServer(server, name, type, { timeoutMs: Math.min(this.attemptTimeoutMs, again), ednsSize: 0 });
        }
        const f = failureOf(a);
        if (f) {
          if (f.kind !== 'timeout' || !failure) failure = f;
          continue;
        }
        if (a.kind !== 'response') continue;   // (failureOf covers it; this narrows the type)
        const i = interpret(a.message, a.rcode, name, type);
        if ('result' in i) return i;
        return this.chase(i.chase, type, i.ttl, chased + 1, deadline);
      }
    }
    return { result: failure ?? { kind: 'timeout' }, ttl: this.temporaryTtl };
  }

  /** chase - continues a CNAME chain at `target`, through the cache but not the in-flight map
   *  (two lookups chasing each other's names would otherwise wait on each other forever). */
  private async chase(target: string, type: RecordType, cnameTtl: number, chased: number, deadline: number): Promise<Outcome> {
    if (chased > MAX_CHASE) return { result: { kind: 'error', detail: `CNAME chain longer than ${MAX_CHASE} queries at ${target}` }, ttl: 0 };
    const key = `${type} ${target}`;
    const hit = this.cache.get(key);
    if (hit) {
      const ttl = hit.kind === 'answer' ? Math.min(cnameTtl, ...hit.records.map((r) => r.ttl)) : Math.min(cnameTtl, this.temporaryTtl);
      return { result: hit, ttl };
    }
    const o = await this.fetch(target, type, chased, deadline);
    this.store(key, o);
    return { result: o.result, ttl: Math.min(cnameTtl, o.ttl) };
  }
}

/** createResolver - a resolver with its own cache (tests, tools); `resolverFor` shares them. */
export function createResolver(options: ResolverOptions = {}): DnsResolver {
  return new StubResolver(options);
}
