/**
 * @module delivery/smtp
 * The smtp (and relay) transport, as Postfix's smtp(8): find the servers for a nexthop, then
 * deliver over SMTP with `delivery/client`, trying server addresses in order.
 *
 * Nexthop forms (smtp(8) "SMTP DESTINATION SYNTAX"):
 * - `[host]:port`, `[host]`: that host (an address, or a name with its A/AAAA records), no MX
 *   lookup; port 25 unless given;
 * - `host:port`, `domain`: the MX records of the name (RFC 5321 §5.1), best preference first,
 *   equal preferences in random order; with no MX record, the name's own addresses (the
 *   implicit MX). A null MX (RFC 7505) bounces; an MX list naming this host ($myhostname)
 *   drops that entry and all worse ones (RFC 5321 §5.1), and bounces when nothing is left;
 * - several of these separated by commas or spaces (as $relayhost allows): tried in order.
 *
 * DNS failure modes: NXDOMAIN bounces (5.4.4 "Host or domain name not found"), a temporary
 * failure defers (4.4.3). DNS is reached through `MxResolver`, which tests replace: they never
 * touch real DNS.
 *
 * XXX: addresses are tried IPv4 first then IPv6 (Postfix's smtp_address_preference=any picks
 * at random); no DNSSEC/DANE; MX answers are not cached across deliveries.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Config } from '../config/config.js';
import type { DeliveryAgent, DeliveryRequest, RecipientResult } from './types.js';
import { attemptSignal, clientOptions, deliverVia, type Endpoint, type Failure } from './client.js';
import { addressLiteral } from './transport.js';

/** The part of node:dns/promises's Resolver the smtp agent uses. */
export interface MxResolver {
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export interface SmtpTarget {
  readonly host: string;
  readonly port: number;
  /** false for `[host]`: no MX lookup. */
  readonly mx: boolean;
}

const SERVICES: Record<string, number> = { smtp: 25, submission: 587, smtps: 465, submissions: 465, lmtp: 24 };

/** A port number or a service name from /etc/services that mail uses. */
export function parsePort(s: string, what: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : SERVICES[s.toLowerCase()];
  if (n === undefined || n < 1 || n > 65535) throw new Error(`bad port "${s}" in ${what}`);
  return n;
}

/** parseSmtpNexthop - the targets of an smtp(8) nexthop; throws on a malformed one. */
export function parseSmtpNexthop(nexthop: string, defaultPort = 25): SmtpTarget[] {
  const out: SmtpTarget[] = [];
  for (const item of nexthop.split(/[\s,]+/).filter(Boolean)) {
    const br = /^\[([^\]]+)\](?::([^:]+))?$/.exec(item);
    if (br) {
      const host = addressLiteral(`[${br[1]}]`)!;
      out.push({ host, port: br[2] ? parsePort(br[2], item) : defaultPort, mx: false });
      continue;
    }
    const hp = /^([^:[\]]+)(?::([^:]+))?$/.exec(item);
    if (!hp) throw new Error(`bad SMTP destination "${item}"`);
    out.push({ host: hp[1]!.toLowerCase().replace(/\.$/, ''), port: hp[2] ? parsePort(hp[2], item) : defaultPort, mx: true });
  }
  if (!out.length) throw new Error('empty SMTP destination');
  return out;
}

/** A DNS error's meaning: the name does not exist, has no such records, or could not be checked. */
function dnsKind(e: unknown): 'nxdomain' | 'nodata' | 'temp' {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOTFOUND') return 'nxdomain';
  if (code === 'ENODATA') return 'nodata';
  return 'temp';
}

function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); });
  });
}

type Resolution = { kind: 'ok'; endpoints: Endpoint[] } | { kind: 'failed'; failure: Failure };

const hostNotFound = (name: string, type: string, temp: boolean): Failure => ({
  status: temp ? 'deferred' : 'bounced',
  dsn: temp ? '4.4.3' : '5.4.4',
  relay: 'none',
  text: `Host or domain name not found. Name service error for name=${name} type=${type}: Host not found${temp ? ', try again' : ''}`,
});

/** The addresses of one host name; `temp` when a lookup failed for a reason that may pass. */
async function hostAddresses(r: MxResolver, name: string, cfg: Config, signal: AbortSignal): Promise<{ addrs: string[]; fail?: 'nxdomain' | 'nodata' | 'temp'; type: string }> {
  if (isIP(name)) return { addrs: [name], type: 'A' };
  const protos = cfg.get('inet_protocols').toLowerCase();
  const want4 = protos.includes('all') || protos.includes('ipv4');
  const want6 = protos.includes('all') || protos.includes('ipv6');
  const addrs: string[] = [];
  let fail: 'nxdomain' | 'nodata' | 'temp' | undefined;
  let type = 'A';
  for (const [on, t, f] of [[want4, 'A', r.resolve4.bind(r)], [want6, 'AAAA', r.resolve6.bind(r)]] as const) {
    if (!on) continue;
    try {
      addrs.push(...await withSignal(f(name), signal));
    } catch (e) {
      if (signal.aborted) throw e;
      const k = dnsKind(e);
      // Keep the worst: a temporary failure beats "no such name", which beats "no data".
      if (k === 'temp' || fail === undefined || (k === 'nxdomain' && fail === 'nodata')) { fail = k; type = t; }
    }
  }
  return { addrs, fail: addrs.length ? undefined : fail ?? 'nodata', type };
}

function shuffleEqual<T extends { priority: number }>(list: T[]): T[] {
  // RFC 5321 §5.1: hosts of equal preference are tried in random order, to spread the load.
  const withKey = list.map((m) => ({ m, k: Math.random() }));
  withKey.sort((a, b) => a.m.priority - b.m.priority || a.k - b.k);
  return withKey.map((x) => x.m);
}

/** resolveSmtpTargets - the server addresses for an smtp nexthop, or the failure that ends the delivery. */
export async function resolveSmtpTargets(
  targets: readonly SmtpTarget[], cfg: Config, r: MxResolver, signal: AbortSignal,
): Promise<Resolution> {
  const limit = cfg.int('smtp_mx_address_limit');
  const me = cfg.get('myhostname').toLowerCase().replace(/\.$/, '');
  const endpoints: Endpoint[] = [];
  let failure: Failure | undefined;
  for (const target of targets) {
    let hosts: string[];
    if (!target.mx) hosts = [target.host];
    else {
      let mx: { exchange: string; priority: number }[] = [];
      try {
        mx = await withSignal(r.resolveMx(target.host), signal);
      } catch (e) {
        if (signal.aborted) throw e;
        const k = dnsKind(e);
        if (k !== 'nodata') { failure ??= hostNotFound(target.host, 'MX', k === 'temp'); continue; }
      }
      // RFC 7505 §3: a single MX with the root as exchange says "no mail here".
      if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) {
        failure ??= { status: 'bounced', dsn: '5.1.10', relay: 'none', text: `Domain ${target.host} does not accept mail (nullMX)` };
        continue;
      }
      mx = mx.filter((m) => m.exchange !== '' && m.exchange !== '.');
      if (!mx.length) hosts = [target.host]; // RFC 5321 §5.1: implicit MX
      else {
        const sorted = shuffleEqual(mx);
        const self = sorted.find((m) => m.exchange.toLowerCase().replace(/\.$/, '') === me);
        const usable = self ? sorted.filter((m) => m.priority < self.priority) : sorted;
        if (!usable.length) {
          failure ??= { status: 'bounced', dsn: '5.4.6', relay: 'none', text: `mail for ${target.host} loops back to myself` };
          continue;
        }
        hosts = usable.map((m) => m.exchange.replace(/\.$/, ''));
      }
    }
    let anyTemp = false;
    let lastMiss: { name: string; type: string } | undefined;
    const before = endpoints.length;
    for (const h of hosts) {
      const a = await hostAddresses(r, h, cfg, signal);
      if (a.fail === 'temp') anyTemp = true;
      if (!a.addrs.length) lastMiss = { name: h, type: a.type };
      for (const addr of a.addrs) endpoints.push({ kind: 'inet', name: h, addr, port: target.port });
    }
    if (endpoints.length === before && lastMiss) failure ??= hostNotFound(lastMiss.name, lastMiss.type, anyTemp);
  }
  if (!endpoints.length) {
    return { kind: 'failed', failure: failure ?? hostNotFound(targets[0]?.host ?? '', 'A', true) };
  }
  return { kind: 'ok', endpoints: limit > 0 ? endpoints.slice(0, limit) : endpoints };
}

export interface SmtpAgentOptions {
  /** DNS for MX and address lookups; default: node's resolver with a 5 s timeout and 2 tries. */
  readonly resolver?: MxResolver;
}

let defaultResolver: Resolver | undefined;

/** createSmtpAgent - an smtp(8)-like agent; tests pass a resolver that answers from a table. */
export function createSmtpAgent(opts: SmtpAgentOptions = {}): DeliveryAgent {
  return {
    async deliver(req: DeliveryRequest, callerSignal: AbortSignal): Promise<RecipientResult[]> {
      const cfg = req.config;
      const signal = attemptSignal(cfg, callerSignal);
      const resolver = opts.resolver ?? (defaultResolver ??= new Resolver({ timeout: 5000, tries: 2 }));
      const all = (f: Failure): RecipientResult[] => req.recipients.map((r) => ({ address: r.address, ...f }));
      let targets: SmtpTarget[];
      try {
        const nh = req.nexthop || req.recipients[0]?.address.split('@').pop() || '';
        targets = parseSmtpNexthop(nh);
      } catch (e) {
        // A configuration mistake: keep the mail (4.3.5) until it is fixed.
        return all({ status: 'deferred', dsn: '4.3.5', relay: 'none', text: `server configuration error: ${(e as Error).message}` });
      }
      let res: Resolution;
      try {
        res = await resolveSmtpTargets(targets, cfg, resolver, signal);
      } catch (e) {
        if (!signal.aborted) throw e;
        return all({ status: 'deferred', dsn: '4.4.3', relay: 'none', text: 'delivery interrupted during DNS lookup' });
      }
      if (res.kind === 'failed') return all(res.failure);
      return deliverVia(req, res.endpoints, clientOptions(cfg, 'smtp', signal));
    },
  };
}
