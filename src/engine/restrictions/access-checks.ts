/**
 * @module engine/restrictions/access-checks
 * check_*_access TYPE:TABLE (postconf(5), access(5)): look the client, HELO name, sender,
 * recipient, ETRN domain or SASL login up in a table, with Postfix's key search orders
 * (engine/access), and act on the value found. Each check answers with its own reply subject,
 * whatever list it is in: check_sender_access in smtpd_recipient_restrictions still rejects
 * with "<sender>: Sender address rejected".
 */
import { accessOutcome, lookupClient, lookupDomain, lookupMail, REPLY_CLASS } from '../access.js';
import { configError, dunno } from '../outcome.js';
import type { Outcome } from '../types.js';
import { defineRestriction, type RestrictionEnv } from './define.js';
import { noInput } from './generic.js';

const namaddr = (env: RestrictionEnv) => `${env.tx.client.name}[${env.tx.client.address}]`;

/** An OK from a check that must not grant trust is a configuration error (forbid_whitelist()). */
function forbidPermit(env: RestrictionEnv, name: string, o: Outcome, target: string): Outcome {
  if (o.kind !== 'permit') return o;
  env.run.events.push({ action: 'warning', text: `restriction ${name} returns OK for ${target}; this is not allowed for security reasons; use DUNNO instead of OK if you want to make an exception` });
  return configError(`${name} returned OK for ${target}, which is not allowed`);
}

export const accessRestrictions = [
  defineRestriction({
    name: 'check_client_access',
    args: 1,
    mayPermit: true,
    doc: 'Look up the client host name, its parent domains, then the client address and its networks in an access(5) table.',
    evaluate(env, [spec]) {
      const t = env.facts.table(spec!);
      const { name, address } = env.tx.client;
      return accessOutcome(env, spec!, lookupClient(env, t, name, address), { replyName: namaddr(env), replyClass: REPLY_CLASS.client }, `${name}[${address}]`);
    },
  }),
  defineRestriction({
    name: 'check_reverse_client_hostname_access',
    args: 1,
    mayPermit: false,
    doc: 'As check_client_access with the unverified reverse (PTR) name; an OK result is refused.',
    evaluate(env, [spec]) {
      const t = env.facts.table(spec!);
      const { reverseName, address } = env.tx.client;
      const o = accessOutcome(env, spec!, lookupClient(env, t, reverseName, address), { replyName: namaddr(env), replyClass: REPLY_CLASS.reverseClient }, `${reverseName}[${address}]`);
      const check = (x: Outcome) => forbidPermit(env, 'check_reverse_client_hostname_access', x, reverseName);
      return o instanceof Promise ? o.then(check) : check(o);
    },
  }),
  defineRestriction({
    name: 'check_helo_access',
    args: 1,
    mayPermit: true,
    doc: 'Look up the HELO/EHLO name and its parent domains in an access(5) table.',
    evaluate(env, [spec]) {
      const helo = env.tx.helo;
      if (helo === undefined) return noInput('HELO');
      const t = env.facts.table(spec!);
      return accessOutcome(env, spec!, lookupDomain(env, t, helo), { replyName: helo, replyClass: REPLY_CLASS.helo }, helo);
    },
  }),
  defineRestriction({
    name: 'check_sender_access',
    args: 1,
    mayPermit: true,
    doc: 'Look up the MAIL FROM address (user@domain, domain and parents, user@; the null sender as $smtpd_null_access_lookup_key) in an access(5) table.',
    evaluate(env, [spec]) {
      const sender = env.tx.sender;
      if (sender === undefined) return noInput('sender');
      const t = env.facts.table(spec!);
      const subject = { replyName: sender, replyClass: REPLY_CLASS.sender };
      if (sender === '') {
        const key = env.facts.config.get('smtpd_null_access_lookup_key');
        const v = t.lookup(key);
        return accessOutcome(env, spec!, v === undefined ? undefined : { key, value: v }, subject, '<>');
      }
      return accessOutcome(env, spec!, lookupMail(env, t, sender), subject, sender);
    },
  }),
  defineRestriction({
    name: 'check_recipient_access',
    args: 1,
    mayPermit: true,
    doc: 'Look up the RCPT TO address (user@domain, domain and parents, user@) in an access(5) table.',
    evaluate(env, [spec]) {
      const rcpt = env.tx.recipient;
      if (!rcpt) return noInput('recipient');
      const t = env.facts.table(spec!);
      const hit = lookupMail(env, t, rcpt);
      const o = accessOutcome(env, spec!, hit, { replyName: rcpt, replyClass: REPLY_CLASS.recipient }, rcpt);
      // Sender-specified routing is too suspicious for an OK (check_mail_access() SUSPICIOUS).
      const check = (x: Outcome): Outcome => (x.kind === 'permit' && hit?.routed && !env.facts.config.bool('allow_untrusted_routing')
        ? dunno(`${x.note}; not trusted: the recipient carries sender-specified routing`) : x);
      return o instanceof Promise ? o.then(check) : check(o);
    },
  }),
  defineRestriction({
    name: 'check_etrn_access',
    args: 1,
    mayPermit: true,
    doc: 'Look up the ETRN domain and its parent domains in an access(5) table.',
    evaluate(env, [spec]) {
      const d = env.tx.etrnDomain;
      if (d === undefined) return noInput('ETRN domain');
      const t = env.facts.table(spec!);
      return accessOutcome(env, spec!, lookupDomain(env, t, d), { replyName: d, replyClass: REPLY_CLASS.etrn }, d);
    },
  }),
  defineRestriction({
    name: 'check_sasl_access',
    args: 1,
    mayPermit: true,
    doc: 'Look up the SASL login name of an authenticated client in an access(5) table.',
    evaluate(env, [spec]) {
      const user = env.tx.sasl?.username;
      if (!user) return noInput('SASL login');
      const t = env.facts.table(spec!);
      const v = t.lookup(user);
      const printable = user.replace(/[^\x21-\x7e]/g, '_');
      return accessOutcome(env, spec!, v === undefined ? undefined : { key: user, value: v }, { replyName: printable, replyClass: REPLY_CLASS.sasl }, user);
    },
  }),
];
