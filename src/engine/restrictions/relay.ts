/**
 * @module engine/restrictions/relay
 * Relay control (postconf(5) reject_unauth_destination, defer_unauth_destination,
 * permit_auth_destination; smtpd_check.c permit_auth_destination()): the recipient is an
 * authorised destination when it resolves to a local, virtual or relay domain without
 * sender-specified routing (engine/address-class).
 */
import { authorizedDestination } from '../address-class.js';
import { dunno, permit, policyReply, reject } from '../outcome.js';
import { defineRestriction, type RestrictionEnv } from './define.js';
import { noInput } from './generic.js';

function authorized(env: RestrictionEnv, recipient: string): { ok: boolean; why: string } {
  const r = env.facts.resolver().resolve(recipient);
  const verdict = authorizedDestination(r, env.facts.config.bool('allow_untrusted_routing'));
  const rewritten = r.rewrites.length ? `; resolved via ${r.rewrites.join(', ')}` : '';
  return { ok: verdict.ok, why: `${recipient} -> ${r.recipient} (${r.addressClass}): ${verdict.why}${rewritten}` };
}

/** `<rcpt>: Relay access denied`: no "Recipient address rejected:" prefix (Postfix's exact text). */
function relayDenied(env: RestrictionEnv, recipient: string, deferral: boolean, why: string) {
  const code = env.facts.config.int('relay_domains_reject_code');
  // defer_unauth_destination answers with relay_domains_reject_code - 100 (454 by default) and
  // 4.7.1 (smtpd_check.c generic_checks()).
  return reject(policyReply(deferral ? code - 100 : code, '7.1', `<${recipient}>: Relay access denied`), why);
}

export const relayRestrictions = [
  defineRestriction({
    name: 'permit_auth_destination',
    mayPermit: true,
    doc: 'Permit when the recipient resolves to $mydestination, a virtual domain or $relay_domains, without sender-specified routing.',
    evaluate(env) {
      const rcpt = env.tx.recipient;
      if (!rcpt) return noInput('recipient');
      const a = authorized(env, rcpt);
      return a.ok ? permit(a.why) : dunno(a.why);
    },
  }),
  defineRestriction({
    name: 'reject_unauth_destination',
    mayPermit: false,
    doc: 'Reject (relay_domains_reject_code, 554 5.7.1) unless the recipient is an authorised destination.',
    evaluate(env) {
      const rcpt = env.tx.recipient;
      if (!rcpt) return noInput('recipient');
      const a = authorized(env, rcpt);
      return a.ok ? dunno(a.why) : relayDenied(env, rcpt, false, a.why);
    },
  }),
  defineRestriction({
    name: 'defer_unauth_destination',
    mayPermit: false,
    doc: 'As reject_unauth_destination, with a temporary code (relay_domains_reject_code - 100, 454 4.7.1).',
    evaluate(env) {
      const rcpt = env.tx.recipient;
      if (!rcpt) return noInput('recipient');
      const a = authorized(env, rcpt);
      return a.ok ? dunno(a.why) : relayDenied(env, rcpt, true, a.why);
    },
  }),
];
