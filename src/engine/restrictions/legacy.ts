/**
 * @module engine/restrictions/legacy
 * Old restriction names that Postfix 3.7 still runs (DEPRECATION_README; all are removed or
 * refused in 3.9, which answers 451 4.3.5 for them).
 *
 * check_relay_domains (deprecated in 2.2): permit when the client host name matches
 * $relay_domains (a client name is easy to come by: this is an open relay for anyone who
 * controls a PTR record), or when the recipient is an authorised destination; otherwise
 * reject with $relay_domains_reject_code and, unlike reject_unauth_destination, the
 * "Recipient address rejected:" prefix. Without a recipient it does nothing.
 *
 * check_recipient_maps is the Postfix 2.0 name of reject_unlisted_recipient.
 */
import { authorizedDestination } from '../address-class.js';
import { permit, policyReply, reject } from '../outcome.js';
import { alias } from './alias.js';
import { defineRestriction } from './define.js';
import { noInput } from './generic.js';
import { recipientMapRestrictions } from './recipient-maps.js';

const unlisted = recipientMapRestrictions.find((d) => d.name === 'reject_unlisted_recipient');
if (!unlisted) throw new Error('reject_unlisted_recipient is not declared');

export const legacyRestrictions = [
  defineRestriction({
    name: 'check_relay_domains',
    mayPermit: true,
    doc: 'Deprecated (Postfix 2.2; removed in 3.9): permit when the client name matches $relay_domains or the recipient is an authorised destination, else reject ($relay_domains_reject_code, 554 5.7.1 … Recipient address rejected: Relay access denied). Use reject_unauth_destination.',
    evaluate(env) {
      const rcpt = env.tx.recipient;
      if (rcpt === undefined) return noInput('recipient');
      const resolver = env.facts.resolver();
      const byClient = resolver.settings.relayDomains.match(env.tx.client.name);
      if (byClient && !byClient.negated) return permit(`client name ${env.tx.client.name} matches relay_domains pattern ${byClient.pattern}`);
      const r = resolver.resolve(rcpt);
      const verdict = authorizedDestination(r, env.facts.config.bool('allow_untrusted_routing'));
      const why = `${rcpt} -> ${r.recipient} (${r.addressClass}): ${verdict.why}`;
      if (verdict.ok) return permit(why);
      return reject(
        policyReply(env.facts.config.int('relay_domains_reject_code'), '7.1', `<${rcpt}>: Recipient address rejected: Relay access denied`),
        `client name ${env.tx.client.name} is not in relay_domains; ${why}`);
    },
  }),
  alias('check_recipient_maps', unlisted, 'Name in Postfix 2.0'),
];

