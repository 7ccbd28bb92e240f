/**
 * @module screen/access
 * postscreen_access_list: postscreen(8)'s permanent allow and deny list, checked before any test
 * (postscreen.c, psc_acl.c). Elements are evaluated in order and the first definite answer wins:
 * `permit_mynetworks` ($mynetworks), `permit`, `reject`, `dunno`, or `type:table` looked up with
 * the client address and answering permit, reject or dunno (case-insensitive). A table answer
 * that is none of these is logged as a warning and counts as dunno. An unknown element is
 * logged and skipped (postscreen stops reading the list there; we fail open the same way).
 */
import type { Config } from '../config/config.js';
import { engineFacts } from '../engine/facts.js';
import { openTable } from '../tables/index.js';

export type AccessVerdict = 'permit' | 'reject' | 'dunno';

/** accessVerdict - the list's answer for one client. */
export function accessVerdict(cfg: Config, address: string, name: string, warn: (text: string) => void): AccessVerdict {
  for (const el of cfg.list('postscreen_access_list')) {
    const e = el.toLowerCase();
    if (e === 'permit_mynetworks') {
      const m = engineFacts(cfg).mynetworks().match(address, name);
      if (m && !m.negated) return 'permit';
      continue;
    }
    if (e === 'permit' || e === 'reject') return e;
    if (e === 'dunno') return 'dunno';
    if (el.includes(':')) {
      const v = openTable(el).lookup(address);
      if (v === undefined) continue;
      const a = v.trim().split(/\s+/)[0]!.toLowerCase();
      if (a === 'permit' || a === 'reject') return a;
      if (a !== 'dunno') warn(`${el}: bad action "${v}" for ${address} in postscreen_access_list; treated as dunno`);
      return 'dunno';
    }
    warn(`postscreen_access_list: unknown element "${el}"; the rest of the list is ignored`);
    return 'dunno';
  }
  return 'dunno';
}
