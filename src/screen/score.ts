/**
 * @module screen/score
 * The connect-time DNS list score (postscreen_dnsbl.c, postscreen_early.c): every list domain is
 * asked once, all in parallel, each within $postscreen_dnsbl_timeout, all within
 * $postscreen_greet_wait (lists that have not answered by then do not count, as in Postfix).
 *
 * - score: the sum of the weights of the patterns whose filter matches an answer;
 * - the list named in the reply: the matching pattern with the highest weight (the first in
 *   $postscreen_dnsbl_sites on a tie; Postfix takes the first answer to arrive, which is not
 *   reproducible), through $postscreen_dnsbl_reply_map;
 * - beyond Postfix: once the score cannot rise above $postscreen_dnsbl_allowlist_threshold
 *   (negative) whatever the pending lists answer, the client is allowlisted without waiting
 *   for them; refusal codes and answers outside 127/8 never count (dnsbl/codes), and degraded or
 *   refusing lists are not asked (dnsbl/health).
 */
import { matchFilter } from '../dnsbl/filter.js';
import type { ListHealthRegistry } from '../dnsbl/health.js';
import { queryList, reverseIp, type ListAnswer } from '../dnsbl/query.js';
import type { Resolver } from '../dns/index.js';
import type { Site } from './sites.js';

export interface ScoreOptions {
  readonly resolver: Resolver;
  readonly health: ListHealthRegistry;
  readonly timeoutMs: number;
  readonly waitMs: number;
  /** Negative to enable early allowlisting; 0 disables it. */
  readonly allowlistThreshold: number;
  readonly session: object;
  readonly warn: (text: string) => void;
}

export interface ScoreResult {
  readonly score: number;
  /** The list domain of the highest-weight matching pattern, when any pattern matched. */
  readonly top?: string;
  /** Per domain: what its lookup gave ('pending' when the wait ended first). */
  readonly answers: ReadonlyMap<string, ListAnswer | 'pending'>;
  readonly allowlistedEarly: boolean;
}

/** dnsblScore - the client's combined score. */
export async function dnsblScore(address: string, sites: readonly Site[], o: ScoreOptions): Promise<ScoreResult> {
  const key = reverseIp(address);
  const domains = [...new Set(sites.map((s) => s.domain))];
  const answers = new Map<string, ListAnswer | 'pending'>(domains.map((d) => [d, 'pending']));
  if (!key) return { score: 0, answers, allowlistedEarly: false };
  let score = 0;
  let topWeight = -Infinity;
  let topIndex = Infinity;
  let top: string | undefined;
  let allowlistedEarly = false;
  const maxGain = (d: string) => sites.filter((s) => s.domain === d && s.weight > 0).reduce((n, s) => n + s.weight, 0);

  await new Promise<void>((resolve) => {
    let left = domains.length;
    if (left === 0) return resolve();
    let closed = false;
    const done = () => { closed = true; clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, o.waitMs);
    timer.unref?.();
    for (const d of domains) {
      void queryList(key, { resolver: o.resolver, health: o.health, domain: d, kind: 'ip', session: o.session, timeoutMs: o.timeoutMs, warn: o.warn })
        .then((a) => {
          if (closed || answers.get(d) !== 'pending') return;
          answers.set(d, a);
          if (a.kind === 'listed') {
            sites.forEach((s, i) => {
              if (s.domain !== d) return;
              if (s.filter && !a.addresses.some((x) => matchFilter(s.filter!, x))) return;
              score += s.weight;
              if (s.weight > topWeight || (s.weight === topWeight && i < topIndex)) { topWeight = s.weight; topIndex = i; top = d; }
            });
          }
          left--;
          if (left === 0) return done();
          if (o.allowlistThreshold < 0) {
            const pendingGain = domains.filter((x) => answers.get(x) === 'pending').reduce((n, x) => n + maxGain(x), 0);
            if (score + pendingGain <= o.allowlistThreshold) { allowlistedEarly = true; done(); }
          }
        }, () => { left--; if (left === 0 && !closed) done(); });
    }
  });
  return { score, top, answers, allowlistedEarly };
}
