/**
 * @module delivery/lmtp
 * The lmtp transport, as Postfix's lmtp(8): LMTP (RFC 2033) to a local store such as Dovecot,
 * over TCP or a UNIX-domain socket, with the client of `delivery/client` in LMTP mode (LHLO,
 * one reply per accepted recipient after the final dot).
 *
 * Nexthop forms (lmtp(8) "LMTP DESTINATION SYNTAX"): `inet:host:port`, `inet:[host]:port`,
 * `host:port`, `[host]:port` and `host` (port 24) for TCP; `unix:/path` and `/path` for a
 * socket. A relative `unix:` path (`unix:private/dovecot-lmtp`) is relative to
 * $queue_directory, as Postfix has it. Host names are resolved by the operating system (hosts
 * file included), never by MX: LMTP servers are local by nature.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Config } from '../config/config.js';
import type { DeliveryAgent, DeliveryRequest, RecipientResult } from './types.js';
import { attemptSignal, clientOptions, deliverVia, type Endpoint } from './client.js';
import { parsePort } from './smtp.js';
import { addressLiteral } from './transport.js';

export type LmtpTarget =
  | { readonly kind: 'inet'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string; readonly shown: string };

/** parseLmtpNexthop - where an lmtp nexthop points; throws on a malformed one. */
export function parseLmtpNexthop(nexthop: string, cfg: Config): LmtpTarget {
  let nh = nexthop.trim();
  if (!nh) throw new Error('empty LMTP destination');
  if (/^unix:/i.test(nh) || nh.startsWith('/')) {
    const p = nh.replace(/^unix:/i, '');
    if (!p) throw new Error(`bad LMTP destination "${nexthop}"`);
    const path = isAbsolute(p) ? p : resolvePath(cfg.get('queue_directory'), p);
    return { kind: 'unix', path, shown: p };
  }
  nh = nh.replace(/^inet:/i, '');
  const br = /^\[([^\]]+)\](?::([^:]+))?$/.exec(nh);
  if (br) return { kind: 'inet', host: addressLiteral(`[${br[1]}]`)!, port: br[2] ? parsePort(br[2], nexthop) : 24 };
  const hp = /^([^:[\]]+)(?::([^:]+))?$/.exec(nh);
  if (!hp) throw new Error(`bad LMTP destination "${nexthop}"`);
  return { kind: 'inet', host: hp[1]!, port: hp[2] ? parsePort(hp[2], nexthop) : 24 };
}

export interface LmtpAgentOptions {
  /** Host name → addresses; default: the operating system's resolver (getaddrinfo). */
  readonly lookupHost?: (name: string) => Promise<string[]>;
}

const osLookup = async (name: string): Promise<string[]> =>
  (await lookup(name, { all: true })).map((a) => a.address);

/** createLmtpAgent - an lmtp(8)-like agent. */
export function createLmtpAgent(opts: LmtpAgentOptions = {}): DeliveryAgent {
  const lookupHost = opts.lookupHost ?? osLookup;
  return {
    async deliver(req: DeliveryRequest, callerSignal: AbortSignal): Promise<RecipientResult[]> {
      const cfg = req.config;
      const signal = attemptSignal(cfg, callerSignal);
      const all = (status: RecipientResult['status'], dsn: string, text: string): RecipientResult[] =>
        req.recipients.map((r) => ({ address: r.address, status, dsn, relay: 'none', text }));
      let target: LmtpTarget;
      try {
        target = parseLmtpNexthop(req.nexthop, cfg);
      } catch (e) {
        return all('deferred', '4.3.5', `server configuration error: ${(e as Error).message}`);
      }
      let endpoints: Endpoint[];
      if (target.kind === 'unix') {
        // Postfix names a socket peer after this host: relay=myhostname[private/dovecot-lmtp].
        endpoints = [{ kind: 'unix', name: cfg.get('myhostname') || 'localhost', path: target.path, shown: target.shown }];
      } else if (isIP(target.host)) {
        endpoints = [{ kind: 'inet', name: target.host, addr: target.host, port: target.port }];
      } else {
        try {
          const addrs = await lookupHost(target.host);
          endpoints = addrs.map((addr) => ({ kind: 'inet', name: target.host, addr, port: target.port }));
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          const temp = code !== 'ENOTFOUND';
          // A local store that cannot be found is a configuration problem: keep the mail either way.
          return all('deferred', temp ? '4.4.3' : '4.3.5', `Host or domain name not found. Name service error for name=${target.host} type=A: Host not found${temp ? ', try again' : ''}`);
        }
      }
      return deliverVia(req, endpoints, clientOptions(cfg, 'lmtp', signal));
    },
  };
}
