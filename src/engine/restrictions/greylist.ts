/**
 * @module engine/restrictions/greylist
 * check_greylist: postgrey's greylisting as a restriction (src/greylist/, docs/greylisting.md).
 * A new triplet answers DEFER_IF_PERMIT (or an immediate defer, $mxguard_greylist_action) with
 * `450 4.2.0 <rcpt>: Recipient address rejected: <$mxguard_greylist_text>`; an allowed triplet,
 * an allow-listed client or recipient, and every request outside the RCPT stage answer DUNNO —
 * greylisting never grants anything. Each decision is logged as postgrey logs it.
 * Beyond postgrey: $mxguard_greylist_only_if limits greylisting to clients without
 * forward-confirmed reverse DNS or listed by a DNS list.
 * Failure: when the state store is unavailable, $mxguard_state_store_failure decides (open:
 * DUNNO; tempfail: 451 4.3.0).
 */
import { splitListArg } from '../../dnsbl/filter.js';
import { matchFilter } from '../../dnsbl/filter.js';
import { healthFor } from '../../dnsbl/health.js';
import { queryList, reverseIp } from '../../dnsbl/query.js';
import { allowlistedLine, greylistDecide, greylistLogLine, greylistSettings, type GreylistRequest } from '../../greylist/greylist.js';
import { greylistStore, storeFailureMode } from '../../greylist/store.js';
import { StoreUnavailableError } from '../../state/types.js';
import { configError, dunno, fixDsn, policyReply, reject, splitDsn } from '../outcome.js';
import type { Outcome } from '../types.js';
import { defineRestriction, type RestrictionEnv } from './define.js';

const warned = new WeakSet<object>();

/** onlyIf - why this client may be greylisted under $mxguard_greylist_only_if, or undefined when it may not. */
async function onlyIf(env: RestrictionEnv, conditions: readonly string[]): Promise<string | undefined | Outcome> {
  if (!conditions.length) return 'always';
  const c = env.tx.client;
  for (const cond of conditions) {
    switch (cond.toLowerCase()) {
      case 'no_fcrdns':
        if (c.name === 'unknown' || (c.nameStatus !== undefined && c.nameStatus !== 'ok')) return 'client has no forward-confirmed name';
        break;
      case 'dnsbl_listed': {
        const key = reverseIp(c.address);
        if (!key) break;
        const resolver = env.facts.dns();
        const health = healthFor(env.facts.config, resolver);
        for (const site of env.facts.config.list('mxguard_greylist_dnsbl_sites')) {
          const [arg, weight] = site.split('*') as [string, string | undefined];
          if (weight !== undefined && Number(weight) < 0) continue;
          let parsed: ReturnType<typeof splitListArg>;
          try { parsed = splitListArg(arg); } catch { continue; }
          const domain = parsed.domain.replace(/\.$/, '').toLowerCase();
          if (!domain) continue;
          const a = await queryList(key, { resolver, health, domain, kind: 'ip', session: env.tx.client, warn: (text) => env.run.events.push({ action: 'warning', text }) });
          if (a.kind === 'listed' && a.addresses.some((x) => !parsed.filter || matchFilter(parsed.filter, x))) return `client listed by ${domain}`;
        }
        break;
      }
      default:
        return configError(`mxguard_greylist_only_if: unknown condition "${cond}"`);
    }
  }
  return undefined;
}

export const greylistRestrictions = [
  defineRestriction({
    name: 'check_greylist',
    mayPermit: false,
    usesDns: true,
    // Only the DNS list names are warmed ahead: a scratch evaluation would touch the triplet store.
    prefetch(env) {
      const cfg = env.facts.config;
      if (!cfg.list('mxguard_greylist_only_if').some((c) => c.toLowerCase() === 'dnsbl_listed')) return [];
      const key = reverseIp(env.tx.client.address);
      if (!key) return [];
      return cfg.list('mxguard_greylist_dnsbl_sites')
        .filter((site) => !(Number(site.split('*')[1]) < 0))
        .map((site) => ({ name: `${key}.${site.split('*')[0]!.split('=')[0]!.replace(/\.$/, '').toLowerCase()}`, type: 'A' as const }));
    },
    doc: 'Greylist (client network, sender, recipient) triplets as postgrey does: defer a new triplet until $mxguard_greylist_delay has passed (mxguard; docs/greylisting.md).',
    async evaluate(env) {
      const tx = env.tx;
      const rcpt = tx.recipient;
      if (rcpt === undefined || rcpt === '' || tx.sender === undefined) return dunno('greylisting needs a sender and a recipient (RCPT stage)');
      // postgrey: a request without the client address answers DUNNO ("attribute missing").
      if (!tx.client.address) return dunno('greylisting needs the client address');
      const cfg = env.facts.config;
      const s = greylistSettings(cfg);
      if (s.warnings.length && !warned.has(s)) {
        warned.add(s);
        for (const w of s.warnings) env.run.events.push({ action: 'warning', text: w });
      }
      const why = await onlyIf(env, cfg.list('mxguard_greylist_only_if'));
      if (why === undefined) return dunno('no condition of mxguard_greylist_only_if holds');
      if (typeof why !== 'string') return why;
      const spfDomain = cfg.bool('mxguard_greylist_spf_client') && tx.spf?.result === 'pass' && tx.spf.domain ? tx.spf.domain : undefined;
      const req: GreylistRequest = { clientAddress: tx.client.address, clientName: tx.client.name, sender: tx.sender, recipient: rcpt, queueId: tx.queueId, ...(spfDomain ? { spfDomain } : {}) };
      let v;
      try {
        v = await greylistDecide(greylistStore(cfg), s, req, Math.floor(Date.now() / 1000));
      } catch (e) {
        if (!(e instanceof StoreUnavailableError)) throw e;
        env.run.events.push({ action: 'warning', text: `greylist: state store unavailable: ${e.message}` });
        if (storeFailureMode(cfg) === 'tempfail') {
          return reject(policyReply(451, '3.0', `<${env.replyName}>: ${env.replyClass} rejected: Temporary lookup failure`), 'state store unavailable; mxguard_state_store_failure = tempfail');
        }
        return dunno('state store unavailable; mxguard_state_store_failure = open');
      }
      env.run.events.push({ action: 'info', text: greylistLogLine(v, req) });
      if (v.action === 'pass') {
        if (v.allowlisted) env.run.events.push({ action: 'info', text: allowlistedLine(req) });
        return dunno(`greylist pass: ${v.reason}`);
      }
      const d = splitDsn('4.2.0', v.text);
      const r = policyReply(cfg.int('access_map_defer_code'), fixDsn(d.status, env.replyClass), `<${env.replyName}>: ${env.replyClass} rejected: ${d.text}`);
      const note = `greylisted (${v.reason}, ${why}); ${v.secondsLeft}s left`;
      return cfg.get('mxguard_greylist_action') === 'defer' ? reject(r, note) : { kind: 'defer_if_permit', reply: r, note };
    },
  }),
];
