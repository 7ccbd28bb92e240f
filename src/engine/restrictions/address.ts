/**
 * @module engine/restrictions/address
 * Address syntax restrictions (postconf(5) reject_non_fqdn_sender, reject_non_fqdn_recipient;
 * smtpd_check.c reject_non_fqdn_address()). The address is checked as the client wrote it,
 * before any rewriting: an address without `@` is not completed with $myorigin or
 * $mydomain, it is rejected (`<alice>: Recipient address rejected: need fully-qualified
 * address`). The domain is what follows the last `@`, one trailing dot ignored; it must be a
 * valid host name (hostname-syntax) with a dot. Address literals (`user@[192.0.2.1]`) are not
 * checked. The null sender is never checked. The reply names the address and its role
 * ("Sender address" / "Recipient address") in whichever list the restriction appears.
 */
import { dunno, policyReply, reject } from '../outcome.js';
import type { Outcome } from '../types.js';
import { defineRestriction, type RestrictionEnv } from './define.js';
import { noInput } from './generic.js';
import { validHostname, withoutTrailingDot } from './hostname-syntax.js';

function nonFqdn(env: RestrictionEnv, address: string, role: 'Sender address' | 'Recipient address'): Outcome {
  const at = address.lastIndexOf('@');
  const domain = at < 0 ? '' : address.slice(at + 1);
  if (domain.startsWith('[') && domain.endsWith(']')) return dunno(`${domain} is an address literal: not checked`);
  const d = withoutTrailingDot(domain);
  if (d !== '' && validHostname(d) && d.includes('.')) return dunno(`${d} is a fully-qualified domain`);
  const why = at < 0 ? 'the address has no @domain'
    : d === '' ? 'the domain is empty'
    : !validHostname(d) ? `${domain} is not a valid host name` : `${domain} has no dot`;
  return reject(
    policyReply(env.facts.config.int('non_fqdn_reject_code'), '5.2', `<${address}>: ${role} rejected: need fully-qualified address`),
    why);
}

export const addressRestrictions = [
  defineRestriction({
    name: 'reject_non_fqdn_sender',
    mayPermit: false,
    doc: 'Reject a MAIL FROM address whose domain is not fully qualified, or that has none ($non_fqdn_reject_code, 504 5.5.2 … need fully-qualified address). The null sender passes.',
    evaluate(env) {
      const sender = env.tx.sender;
      if (!sender) return noInput('non-null sender');
      return nonFqdn(env, sender, 'Sender address');
    },
  }),
  defineRestriction({
    name: 'reject_non_fqdn_recipient',
    mayPermit: false,
    doc: 'Reject a RCPT TO address whose domain is not fully qualified, or that has none ($non_fqdn_reject_code, 504 5.5.2 … need fully-qualified address).',
    evaluate(env) {
      const rcpt = env.tx.recipient;
      if (rcpt === undefined) return noInput('recipient');
      return nonFqdn(env, rcpt, 'Recipient address');
    },
  }),
];
