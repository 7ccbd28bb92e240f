/**
 * @module engine/restrictions/session
 * Restrictions on the SMTP session rather than on a name or address (postconf(5) generic
 * restrictions; smtpd_check.c generic_checks()): pipelining misuse, bounces to several
 * recipients, plaintext sessions, and a pause. Their replies use the list's reply name and
 * class (`<DATA>: Data command rejected: …`), except reject_plaintext_session which has no
 * `<…>:` prefix.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { configError, dunno, policyReply, reject } from '../outcome.js';
import { defineRestriction } from './define.js';

export const sessionRestrictions = [
  defineRestriction({
    name: 'reject_unauth_pipelining',
    mayPermit: false,
    doc: 'Reject when the client sent commands ahead of time where that is not allowed, at any point of the session (fixed 503 5.5.0 … Improper use of SMTP command pipelining). Most useful in smtpd_data_restrictions.',
    evaluate(env) {
      // Postfix 2.6+: smtpd sets a per-session flag; the restriction only reads it.
      if (!env.tx.illegalPipelining) return dunno('no improper command pipelining seen in this session');
      return reject(
        policyReply(503, '5.0', `<${env.replyName}>: ${env.replyClass} rejected: Improper use of SMTP command pipelining`),
        'the client sent commands ahead of time where that is not allowed');
    },
  }),
  defineRestriction({
    name: 'reject_multi_recipient_bounce',
    mayPermit: false,
    doc: 'Reject mail from the null sender to more than one recipient ($multi_recipient_bounce_reject_code, 550 5.5.3 … Multi-recipient bounce). Reliable only in smtpd_data_restrictions and smtpd_end_of_data_restrictions.',
    evaluate(env) {
      const { sender, recipientCount } = env.tx;
      if (sender === undefined) return dunno('no MAIL FROM yet');
      if (sender !== '') return dunno('the sender is not the null sender');
      // At RCPT the count is of recipients accepted before this one, so a second recipient
      // is refused; at DATA and end of data the count is final.
      const limit = env.stage === 'rcpt' ? 0 : 1;
      if (recipientCount <= limit) {
        return dunno(env.stage === 'rcpt' ? 'null sender, first recipient' : `null sender, ${recipientCount} recipient${recipientCount === 1 ? '' : 's'}`);
      }
      return reject(
        policyReply(env.facts.config.int('multi_recipient_bounce_reject_code'), '5.3', `<${env.replyName}>: ${env.replyClass} rejected: Multi-recipient bounce`),
        env.stage === 'rcpt' ? `null sender, ${recipientCount} recipient(s) already accepted` : `null sender, ${recipientCount} recipients`);
    },
  }),
  defineRestriction({
    name: 'reject_plaintext_session',
    mayPermit: false,
    doc: 'Reject when the session is not encrypted with TLS ($plaintext_reject_code, 450 4.7.1 Session encryption is required).',
    evaluate(env) {
      if (env.tx.tls) return dunno('the session is encrypted');
      return reject(
        policyReply(env.facts.config.int('plaintext_reject_code'), '7.1', 'Session encryption is required'),
        'the session is not encrypted');
    },
  }),
  defineRestriction({
    name: 'sleep',
    args: 1,
    mayPermit: false,
    doc: 'Pause for the given number of seconds, then go on with the list (stops some clients that talk before their turn).',
    async evaluate(_env, args) {
      const arg = args[0]!;
      if (!/^\d+$/.test(arg)) return configError(`restriction sleep must be followed by a number of seconds, not "${arg}"`);
      const seconds = Number(arg);
      await sleep(seconds * 1000);
      return dunno(`slept ${seconds}s`);
    },
  }),
];
