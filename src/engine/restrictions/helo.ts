/**
 * @module engine/restrictions/helo
 * HELO/EHLO syntax restrictions (postconf(5) smtpd_helo_restrictions; smtpd_check.c
 * reject_invalid_hostname(), reject_non_fqdn_hostname(), reject_invalid_hostaddr()). They
 * name the HELO argument and "Helo command" in their replies in whichever list they appear,
 * and answer DUNNO when the client gave no HELO/EHLO (so without smtpd_helo_required = yes a
 * client can skip them, as in Postfix).
 *
 * - A name in brackets is an address literal and only checked as one: `[1.2.3.4]` or
 *   `[IPv6:2001:db8::1]`; anything else gives "invalid ip address" with
 *   $invalid_hostname_reject_code, also from reject_non_fqdn_helo_hostname.
 * - One trailing dot is ignored (`host.example.` is fully qualified).
 * - reject_invalid_helo_hostname accepts a host name or a bare IP address (`1.2.3.4`, `::1`).
 * - reject_non_fqdn_helo_hostname wants a valid host name with a dot: a bare IP address is
 *   not one.
 */
import { dunno, permit, policyReply, reject } from '../outcome.js';
import type { Outcome } from '../types.js';
import { alias } from './alias.js';
import { defineRestriction, type RestrictionEnv } from './define.js';
import { noInput } from './generic.js';
import { validAddressLiteral, validHostaddr, validHostname, withoutTrailingDot } from './hostname-syntax.js';

const HELO_CLASS = 'Helo command';

/** reject_invalid_hostaddr(): the HELO must be a valid address (literal). */
function checkLiteral(env: RestrictionEnv, helo: string): Outcome {
  if (validAddressLiteral(helo)) return dunno(`${helo} is a valid address literal`);
  return reject(
    policyReply(env.facts.config.int('invalid_hostname_reject_code'), '5.2', `<${helo}>: ${HELO_CLASS} rejected: invalid ip address`),
    `${helo} is not a valid IPv4 or IPv6: address (literal)`);
}

const rejectInvalidHelo = defineRestriction({
  name: 'reject_invalid_helo_hostname',
  mayPermit: false,
  doc: 'Reject a HELO/EHLO argument that is neither a valid host name nor a valid address or address literal ($invalid_hostname_reject_code, 501 5.5.2 … Invalid name).',
  evaluate(env) {
    const helo = env.tx.helo;
    if (helo === undefined) return noInput('HELO/EHLO');
    if (helo.startsWith('[')) return checkLiteral(env, helo);
    const name = withoutTrailingDot(helo);
    if (validHostname(name)) return dunno(`${helo} is a valid host name`);
    if (validHostaddr(name)) return dunno(`${helo} is a valid IP address`);
    return reject(
      policyReply(env.facts.config.int('invalid_hostname_reject_code'), '5.2', `<${helo}>: ${HELO_CLASS} rejected: Invalid name`),
      `${helo} is not a valid host name or IP address`);
  },
});

const rejectNonFqdnHelo = defineRestriction({
  name: 'reject_non_fqdn_helo_hostname',
  mayPermit: false,
  doc: 'Reject a HELO/EHLO argument that is not a fully-qualified host name ($non_fqdn_reject_code, 504 5.5.2 … need fully-qualified hostname); an invalid address literal gets $invalid_hostname_reject_code.',
  evaluate(env) {
    const helo = env.tx.helo;
    if (helo === undefined) return noInput('HELO/EHLO');
    if (helo.startsWith('[')) return checkLiteral(env, helo);
    const name = withoutTrailingDot(helo);
    if (validHostname(name) && name.includes('.')) return dunno(`${helo} is a fully-qualified host name`);
    return reject(
      policyReply(env.facts.config.int('non_fqdn_reject_code'), '5.2', `<${helo}>: ${HELO_CLASS} rejected: need fully-qualified hostname`),
      validHostname(name) ? `${helo} has no dot` : `${helo} is not a valid host name`);
  },
});

/**
 * permit_naked_ip_address (deprecated since Postfix 2.0, removed in 3.9; 3.7 still runs it and
 * logs a warning): permit when the HELO argument is made of digits, dots and colons only and
 * is a valid address. Such a HELO that is not a valid address is rejected as an invalid ip
 * address, as Postfix does. Only a bare IPv4 address can pass: an IPv6 one would need the
 * `IPv6:` tag, which has letters.
 */
const permitNakedIp = defineRestriction({
  name: 'permit_naked_ip_address',
  mayPermit: true,
  doc: 'Deprecated (Postfix 2.0; removed in 3.9): permit when HELO/EHLO is a bare IP address. Use permit_mynetworks or permit_sasl_authenticated.',
  evaluate(env) {
    const helo = env.tx.helo;
    if (helo === undefined) return noInput('HELO/EHLO');
    if (!/^[0-9.:]*$/.test(helo)) return dunno(`${helo} is not a bare IP address`);
    const r = checkLiteral(env, helo);
    return r.kind === 'dunno' ? permit(`HELO ${helo} is a bare IP address (deprecated permit_naked_ip_address)`) : r;
  },
});

export const heloRestrictions = [
  rejectInvalidHelo,
  rejectNonFqdnHelo,
  permitNakedIp,
  alias('reject_invalid_hostname', rejectInvalidHelo, 'Name before Postfix 2.3'),
  alias('reject_non_fqdn_hostname', rejectNonFqdnHelo, 'Name before Postfix 2.3'),
];
