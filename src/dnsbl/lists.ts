/**
 * @module dnsbl/lists
 * Every DNS list a configuration names: in the smtpd restriction lists and restriction classes
 * (reject_rbl_client, reject_rhsbl_*, permit_dnswl_client, permit_rhswl_client, reject_maps_rbl
 * with $maps_rbl_domains) and in $postscreen_dnsbl_sites. Used to watch them from start-up and
 * by `mxguard lists`.
 */
import type { Config } from '../config/config.js';
import { RESTRICTION_LISTS } from '../engine/evaluate.js';
import type { ListKind } from './health.js';

const IP_LISTS = new Set(['reject_rbl_client', 'reject_rbl', 'permit_dnswl_client']);
const DOMAIN_LISTS = new Set(['reject_rhsbl_client', 'reject_rhsbl_reverse_client', 'reject_rhsbl_helo', 'reject_rhsbl_sender', 'reject_rhsbl_recipient', 'permit_rhswl_client']);

export interface ConfiguredList {
  readonly domain: string;
  readonly kinds: ListKind[];
  /** Where it is named: `smtpd_client_restrictions reject_rbl_client`, `postscreen_dnsbl_sites`, … */
  readonly usedBy: string[];
}

/** configuredLists - the lists of a configuration, in the order first named. */
export function configuredLists(cfg: Config): ConfiguredList[] {
  const out = new Map<string, ConfiguredList>();
  const add = (arg: string, kind: ListKind, where: string) => {
    const domain = arg.split('=')[0]!.split('*')[0]!.replace(/\.$/, '').toLowerCase();
    if (!domain) return;
    let l = out.get(domain);
    if (!l) { l = { domain, kinds: [], usedBy: [] }; out.set(domain, l); }
    if (!l.kinds.includes(kind)) l.kinds.push(kind);
    if (!l.usedBy.includes(where)) l.usedBy.push(where);
  };
  const names = [...RESTRICTION_LISTS, ...safeList(cfg, 'smtpd_restriction_classes')];
  for (const list of names) {
    const tokens = safeList(cfg, list);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!.toLowerCase();
      if (IP_LISTS.has(t) || DOMAIN_LISTS.has(t)) {
        const arg = tokens[i + 1];
        if (arg) add(arg, IP_LISTS.has(t) ? 'ip' : 'domain', `${list} ${t}`);
        i++;
      } else if (t === 'reject_maps_rbl') {
        for (const d of safeList(cfg, 'maps_rbl_domains')) add(d, 'ip', `${list} reject_maps_rbl`);
      }
    }
  }
  for (const s of safeList(cfg, 'postscreen_dnsbl_sites')) add(s, 'ip', 'postscreen_dnsbl_sites');
  return [...out.values()];
}

function safeList(cfg: Config, name: string): readonly string[] {
  try { return cfg.list(name); } catch { return []; }
}
