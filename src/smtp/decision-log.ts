/**
 * @module smtp/decision-log
 * When and how a decision's trace goes to the log: for clients in $debug_peer_list (Postfix's
 * per-client debugging switch) and, with $mxguard_trace_log, for every client (all decisions,
 * or only those that rejected or warned).
 */
import type { Config } from '../config/config.js';
import { NetworkList } from '../engine/networks.js';
import type { ClientInfo, Decision, TraceStep } from '../engine/types.js';
import { replyLine } from './reply.js';

const peerLists = new WeakMap<Config, NetworkList | null>();

function debugPeers(cfg: Config): NetworkList | null {
  let l = peerLists.get(cfg);
  if (l === undefined) {
    const items = cfg.list('debug_peer_list');
    try { l = items.length ? new NetworkList(items, { name: 'debug_peer_list' }) : null; } catch { l = null; }
    peerLists.set(cfg, l);
  }
  return l;
}

export function shouldTrace(cfg: Config, client: ClientInfo, d: Decision): boolean {
  if (!d.trace.length) return false;
  const mode = cfg.get('mxguard_trace_log');
  if (mode === 'all') return true;
  if (mode === 'reject' && (d.action === 'reject' || d.trace.some((s) => s.outcome.kind === 'reject_warning'))) return true;
  const peers = debugPeers(cfg);
  if (!peers) return false;
  return peers.matches(client.address, client.name);
}

/** One line per evaluated restriction: `list: restriction args -> outcome [reply] (why)`. */
export function traceLine(s: TraceStep): string {
  const o = s.outcome;
  const r = 'reply' in o ? ` ${replyLine(o.reply)}` : '';
  return `${s.list}: ${[s.restriction, ...s.args].join(' ')} -> ${o.kind}${r} (${o.note})`;
}

export function decisionTraceLines(d: Decision): string[] {
  return d.trace.map(traceLine);
}
