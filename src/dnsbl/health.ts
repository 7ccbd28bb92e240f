/**
 * @module dnsbl/health
 * The health of every DNS list this process uses (mxguard's own; Postfix has none): each list
 * is healthy, degraded (timeouts, SERVFAIL, refused queries) or refusing (answers that are not
 * listings: operator error codes, addresses outside 127/8, the RFC 5782 test point 127.0.0.1
 * listed). A list that is not healthy is skipped, so it rejects nothing and costs nothing, until
 * its back-off has passed; then one canary query pair (RFC 5782 §5 test points: 127.0.0.2 / TEST
 * must be listed, 127.0.0.1 / INVALID must not) decides whether it is back. State changes are
 * warnings in the log; `mxguard lists` reads the state file written by the running server.
 *
 * Failure behaviour:
 * - a temporary failure counts once per session (a session that saw the list fail does not ask it
 *   again), and $mxguard_dnsbl_failure_limit failures in a row make the list degraded;
 * - a refusal or invalid answer makes the list refusing at once;
 * - the back-off starts at $mxguard_dnsbl_retry_time and doubles at each failed canary up to
 *   $mxguard_dnsbl_retry_max; while it runs, no query (canary or not) is sent;
 * - the state is per process and per DNS server set.
 * With mxguard_workers > 1 each worker keeps its own state in `<file>.worker<N>` (a list that
 * fails is found out by each worker once); `mxguard lists` merges them.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { isTemporary, type DnsResult, type Resolver } from '../dns/index.js';
import { classifyAnswer } from './codes.js';

export type ListState = 'healthy' | 'degraded' | 'refusing';
export type ListKind = 'ip' | 'domain';

export interface ListHealth {
  domain: string;
  state: ListState;
  /** Why the list is in this state (empty when healthy without remarks). */
  reason: string;
  /** ms since the epoch. */
  since: number;
  kinds: ListKind[];
  queries: number;
  listed: number;
  notListed: number;
  failures: number;
  refusals: number;
  skipped: number;
  consecutiveFailures: number;
  lastAnswer?: { at: number; name: string; answer: string };
  /** While not healthy: when the next canary may run (ms since the epoch). */
  retryAt?: number;
  backoffMs: number;
}

/** What one lookup of a list gave, as the health tracker sees it. */
export type Observation =
  | { kind: 'listed' | 'not_listed'; name: string; answer: string }
  | { kind: 'refused'; name: string; answer: string; why: string }
  | { kind: 'failed'; name: string; answer: string };

export interface HealthSettings {
  failureLimit: number;
  retryMs: number;
  retryMaxMs: number;
  /** Resolver used for canaries. */
  resolver: Resolver;
  now?: () => number;
}

/** describeResult - a DNS result in the words of the log and `mxguard lists`. */
export function describeResult(r: DnsResult): string {
  switch (r.kind) {
    case 'answer': return r.records.map((x) => (x.type === 'A' || x.type === 'AAAA' ? x.address : x.type)).join(' ');
    case 'nxdomain': return 'NXDOMAIN';
    case 'nodata': return 'NODATA';
    case 'servfail': return 'SERVFAIL';
    case 'refused': return `refused (${r.rcode})`;
    case 'timeout': return 'timeout';
    case 'error': return `error (${r.detail})`;
  }
}

export class ListHealthRegistry {
  private readonly lists = new Map<string, ListHealth>();
  /** Lists a session saw fail: not asked again in that session. Keyed by the session's ClientInfo object. */
  private readonly sessionFailures = new WeakMap<object, Set<string>>();
  private sink: ((warning: string) => void) | undefined;
  private onChange: (() => void) | undefined;
  private readonly probing = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly settings: HealthSettings) {
    this.now = settings.now ?? Date.now;
  }

  /** Where state-change warnings go (the server's log); without one they are returned to the caller. */
  attach(sink: (warning: string) => void, onChange: () => void): void { this.sink = sink; this.onChange = onChange; }
  get attached(): boolean { return this.sink !== undefined; }

  /** watch - declares a configured list, so that it shows before its first query. */
  watch(domain: string, kind: ListKind): ListHealth {
    const d = domain.toLowerCase();
    let h = this.lists.get(d);
    if (!h) {
      h = { domain: d, state: 'healthy', reason: 'no answer yet', since: this.now(), kinds: [], queries: 0, listed: 0, notListed: 0, failures: 0, refusals: 0, skipped: 0, consecutiveFailures: 0, backoffMs: this.settings.retryMs };
      this.lists.set(d, h);
    }
    if (!h.kinds.includes(kind)) h.kinds.push(kind);
    return h;
  }

  get(domain: string): ListHealth | undefined { return this.lists.get(domain.toLowerCase()); }
  all(): ListHealth[] { return [...this.lists.values()]; }

  /**
   * skipReason - why this list must not be asked now (undefined: ask it). A list whose back-off
   * has passed gets one canary check in the background; the query at hand still skips it.
   */
  skipReason(domain: string, kind: ListKind, session?: object): string | undefined {
    const h = this.watch(domain, kind);
    if (session && this.sessionFailures.get(session)?.has(h.domain)) {
      h.skipped++;
      return `${h.domain} failed earlier in this session`;
    }
    if (h.state === 'healthy') return undefined;
    if (h.retryAt !== undefined && this.now() >= h.retryAt) void this.canary(h.domain);
    h.skipped++;
    return `${h.domain} is ${h.state} (${h.reason}); skipped until it answers its test points again`;
  }

  /** record - one lookup's outcome; returns the warnings to log when no sink is attached. */
  record(domain: string, kind: ListKind, o: Observation, session?: object): string[] {
    const h = this.watch(domain, kind);
    h.queries++;
    h.lastAnswer = { at: this.now(), name: o.name, answer: o.answer };
    switch (o.kind) {
      case 'listed':
      case 'not_listed':
        if (o.kind === 'listed') h.listed++; else h.notListed++;
        h.consecutiveFailures = 0;
        if (h.reason === 'no answer yet') h.reason = '';
        if (h.state !== 'healthy') return this.change(h, 'healthy', `answered ${o.name}: ${o.answer}`);
        this.onChange?.();
        return [];
      case 'refused':
        h.refusals++;
        return this.change(h, 'refusing', o.why, true);
      case 'failed': {
        h.failures++;
        h.consecutiveFailures++;
        if (session) {
          let s = this.sessionFailures.get(session);
          if (!s) { s = new Set(); this.sessionFailures.set(session, s); }
          s.add(h.domain);
        }
        if (h.state === 'healthy' && h.consecutiveFailures >= this.settings.failureLimit) {
          return this.change(h, 'degraded', `${h.consecutiveFailures} lookups in a row failed, the last ${o.name}: ${o.answer}`, true);
        }
        this.onChange?.();
        return [];
      }
    }
  }

  private change(h: ListHealth, to: ListState, reason: string, backoff = false): string[] {
    const from = h.state;
    const now = this.now();
    if (backoff) {
      // A list that fails its canary again waits twice as long (bounded).
      if (from !== 'healthy') h.backoffMs = Math.min(h.backoffMs * 2, this.settings.retryMaxMs);
      else h.backoffMs = this.settings.retryMs;
      h.retryAt = now + h.backoffMs;
    } else {
      h.retryAt = undefined;
      h.backoffMs = this.settings.retryMs;
    }
    h.reason = to === 'healthy' ? '' : reason;
    const changed = from !== to;
    if (changed) { h.state = to; h.since = now; }
    this.onChange?.();
    if (!changed) return [];
    const text = to === 'healthy'
      ? `dnsbl ${h.domain}: healthy again (${reason})`
      : `dnsbl ${h.domain}: ${to}: ${reason}; not used for ${Math.round(h.backoffMs / 1000)}s, then checked with its test points`;
    if (this.sink) { this.sink(text); return []; }
    return [text];
  }

  /**
   * canary - RFC 5782 §5 test points: 127.0.0.2 (IP lists) or TEST (domain lists) must be listed,
   * 127.0.0.1 / INVALID must not. One at a time per list; the result decides the state.
   */
  async canary(domain: string): Promise<ListState> {
    const d = domain.toLowerCase();
    const h = this.lists.get(d);
    if (!h) throw new Error(`canary for unknown list ${domain}`);
    if (this.probing.has(d)) return h.state;
    this.probing.add(d);
    try {
      const ip = h.kinds.includes('ip') || h.kinds.length === 0;
      const [pos, neg] = ip ? [`2.0.0.127.${d}`, `1.0.0.127.${d}`] : [`test.${d}`, `invalid.${d}`];
      const [p, n] = await Promise.all([this.settings.resolver.lookup(pos, 'A'), this.settings.resolver.lookup(neg, 'A')]);
      const emit = (w: string[]) => { for (const x of w) this.sink?.(x); };
      h.lastAnswer = { at: this.now(), name: pos, answer: describeResult(p) };
      for (const [name, r] of [[pos, p], [neg, n]] as const) {
        if (isTemporary(r)) { emit(this.change(h, 'degraded', `test point ${name}: ${describeResult(r)}`, true)); return h.state; }
        if (r.kind === 'answer') {
          const addrs = r.records.flatMap((x) => (x.type === 'A' ? [x.address] : []));
          // 127.0.0.1 is the negative test point's own name, not an answer: judge the answers only.
          const c = classifyAnswer(d, addrs);
          if (c.kind === 'refused') { h.refusals++; emit(this.change(h, 'refusing', `test point ${name}: ${c.why}`, true)); return h.state; }
        }
      }
      if (n.kind === 'answer') {
        h.refusals++;
        emit(this.change(h, 'refusing', `lists everything: the test point ${neg} that must not be listed answered ${describeResult(n)}`, true));
        return h.state;
      }
      h.consecutiveFailures = 0;
      const note = p.kind === 'answer' ? `test points answered correctly` : `${neg} not listed; ${pos} not listed either (the list has no test entry)`;
      if (h.state !== 'healthy') emit(this.change(h, 'healthy', note));
      else { h.reason = p.kind === 'answer' ? '' : note; this.onChange?.(); }
      return h.state;
    } finally {
      this.probing.delete(d);
    }
  }
}

const registries = new Map<string, ListHealthRegistry>();

/** healthFor - the registry of this configuration's DNS servers (shared by smtpd checks and the screen). */
/** Forgets every list's health (tests: a new DNS server may reuse an old one's port). */
export function clearListHealth(): void { registries.clear(); }

export function healthFor(cfg: Config, resolver: Resolver): ListHealthRegistry {
  const key = cfg.list('mxguard_dns_servers').join(',');
  let r = registries.get(key);
  if (!r) {
    r = new ListHealthRegistry({
      failureLimit: cfg.int('mxguard_dnsbl_failure_limit'),
      retryMs: cfg.time('mxguard_dnsbl_retry_time') * 1000,
      retryMaxMs: cfg.time('mxguard_dnsbl_retry_max') * 1000,
      resolver,
    });
    registries.set(key, r);
  }
  return r;
}

// ---- the state file -------------------------------------------------------------------------

export interface HealthFile {
  version: 1;
  pid: number;
  written: string;
  lists: ListHealth[];
}

/** writeHealthFile - atomically (write, then rename), so that a reader never sees half a file. */
export function writeHealthFile(path: string, lists: readonly ListHealth[]): void {
  const doc: HealthFile = { version: 1, pid: process.pid, written: new Date().toISOString(), lists: [...lists] };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 1) + '\n');
  renameSync(tmp, path);
}

/**
 * The state file this process writes: with mxguard_workers > 1 each worker keeps its own list
 * health and writes `<file>.worker<N>`; `mxguard lists` merges them (readAllHealthFiles).
 */
export function healthFileOf(base: string): string {
  const w = process.env.MXGUARD_WORKER_INDEX;
  return w ? `${base}.worker${w}` : base;
}

const STATE_ORDER: Record<ListState, number> = { healthy: 0, degraded: 1, refusing: 2 };

/**
 * readAllHealthFiles - the state file and the workers' files, merged per list: the worst state
 * (with its reason), the sums of the counters, the latest answer.
 */
export function readAllHealthFiles(base: string): HealthFile | undefined {
  const dir = dirname(base);
  const name = base.slice(dir.length + 1);
  let names: string[];
  try { names = readdirSync(dir).filter((f) => f === name || (f.startsWith(`${name}.worker`) && /\.worker\d+$/.test(f))); } catch { return undefined; }
  const docs = names.map((f) => { try { return readHealthFile(join(dir, f)); } catch { return undefined; } }).filter((d): d is HealthFile => !!d);
  if (!docs.length) return undefined;
  if (docs.length === 1) return docs[0];
  const merged = new Map<string, ListHealth>();
  for (const d of docs) {
    for (const h of d.lists) {
      const m = merged.get(h.domain);
      if (!m) { merged.set(h.domain, { ...h, kinds: [...h.kinds] }); continue; }
      if (STATE_ORDER[h.state] > STATE_ORDER[m.state]) { m.state = h.state; m.reason = h.reason; m.since = h.since; m.retryAt = h.retryAt; }
      for (const k of h.kinds) if (!m.kinds.includes(k)) m.kinds.push(k);
      m.queries += h.queries; m.listed += h.listed; m.notListed += h.notListed; m.failures += h.failures;
      m.refusals += h.refusals; m.skipped += h.skipped;
      if (h.lastAnswer && (!m.lastAnswer || h.lastAnswer.at > m.lastAnswer.at)) m.lastAnswer = h.lastAnswer;
    }
  }
  const latest = docs.map((d) => d.written).sort().at(-1)!;
  return { version: 1, pid: docs[0]!.pid, written: latest, lists: [...merged.values()] };
}

/** readHealthFile - the state file, or undefined when there is none (no server has run yet). */
export function readHealthFile(path: string): HealthFile | undefined {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { return undefined; }
  const doc = JSON.parse(text) as HealthFile;
  if (doc.version !== 1 || !Array.isArray(doc.lists)) throw new Error(`${path}: not a list health file`);
  return doc;
}
