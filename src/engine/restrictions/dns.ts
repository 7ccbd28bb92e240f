/**
 * @module engine/restrictions/dns
 * Restrictions that need DNS lookups, address verification or a policy server, which mxguard
 * does not have yet. Each is declared with its Postfix name, arguments and whether it can
 * permit, so that lists naming them parse, audit/ can reason about them and start-up warns;
 * each answers DUNNO with the reason until its dependency arrives. Arguments that Postfix
 * itself refuses (a check_*_access without `type:table`, a policy service without
 * `transport:server`) are configuration errors here too.
 *
 * The DNS checks that are not lists (reject_unknown_*, permit_mx_backup, check_*_{a,mx,ns}_access)
 * live in dns-checks.ts and server-access.ts; the DNS lists (reject_rbl_client, reject_rhsbl_*,
 * permit_dnswl_client, permit_rhswl_client, reject_maps_rbl) in dnsbl.ts.
 *
 * Replies they will give (Postfix 3.7), for reference:
 * - reject_unverified_sender/recipient: $unverified_*_reject_code (450), 4.1.7 / 4.1.1.
 */
import { configError, dunno } from '../outcome.js';
import type { Outcome } from '../types.js';
import { defineRestriction, type RestrictionDef } from './define.js';

const NEEDS_VERIFY = 'needs address verification, the verify(8) service (not yet in mxguard)';
const NEEDS_POLICY = 'policy service client not yet in mxguard';

function pending(name: string, opts: {
  args?: number; mayPermit: boolean; reason: string; doc: string; check?: (args: readonly string[]) => Outcome | undefined;
}): RestrictionDef {
  return defineRestriction({
    name,
    args: opts.args ?? 0,
    mayPermit: opts.mayPermit,
    unavailable: opts.reason,
    doc: opts.doc,
    evaluate(_env, args) {
      return opts.check?.(args) ?? dunno(`not evaluated: ${opts.reason}`);
    },
  });
}


export const dnsRestrictions: RestrictionDef[] = [
  pending('reject_unverified_sender', {
    mayPermit: false, reason: NEEDS_VERIFY,
    doc: 'Reject a sender address that address verification found undeliverable ($unverified_sender_reject_code).',
  }),
  pending('reject_unverified_recipient', {
    mayPermit: false, reason: NEEDS_VERIFY,
    doc: 'Reject a recipient address that address verification found undeliverable ($unverified_recipient_reject_code).',
  }),
  pending('check_policy_service', {
    args: 1, mayPermit: true, reason: NEEDS_POLICY,
    doc: 'Ask an external policy server (SMTPD_POLICY_README) and apply its access(5) action.',
    check: (args) => (args[0]!.includes(':') ? undefined
      : configError(`restriction check_policy_service must be followed by transport:server, not "${args[0]}"`)),
  }),
];
