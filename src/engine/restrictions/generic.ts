/**
 * @module engine/restrictions/generic
 * Restrictions usable in every list (postconf(5) "Generic restrictions"): permit, reject,
 * defer. Texts and codes as smtpd_check.c generic_checks().
 */
import { dunno, permit, policyReply, reject } from '../outcome.js';
import { defineRestriction, type RestrictionEnv } from './define.js';

const who = (env: RestrictionEnv) => `<${env.replyName}>: ${env.replyClass} rejected`;

export const genericRestrictions = [
  defineRestriction({
    name: 'permit',
    mayPermit: true,
    endsList: true,
    doc: 'Permit the request; ends this list only (the other lists still run).',
    evaluate: () => permit('unconditional permit'),
  }),
  defineRestriction({
    name: 'reject',
    mayPermit: false,
    endsList: true,
    doc: 'Reject the request with $reject_code (554 5.7.1 … Access denied).',
    evaluate: (env) => reject(
      policyReply(env.facts.config.int('reject_code'), '7.1', `${who(env)}: Access denied`),
      'unconditional reject'),
  }),
  defineRestriction({
    name: 'defer',
    mayPermit: false,
    endsList: true,
    doc: 'Defer the request with $defer_code (450 4.3.2 … Try again later).',
    evaluate: (env) => reject(
      policyReply(env.facts.config.int('defer_code'), '3.2', `${who(env)}: Try again later`),
      'unconditional defer'),
  }),
  defineRestriction({
    name: 'defer_if_permit',
    mayPermit: false,
    doc: 'Defer (450 4.7.0 … defer_if_permit requested) if this stage would otherwise accept; evaluation goes on.',
    evaluate: (env) => ({ kind: 'defer_if_permit', reply: policyReply(450, '7.0', `${who(env)}: defer_if_permit requested`), note: 'deferral pending unless something rejects' }),
  }),
  defineRestriction({
    name: 'defer_if_reject',
    mayPermit: false,
    doc: 'Turn a later 5xx reject of this stage into 450 4.7.0 … defer_if_reject requested; evaluation goes on.',
    evaluate: (env) => ({ kind: 'defer_if_reject', reply: policyReply(450, '7.0', `${who(env)}: defer_if_reject requested`), note: 'a later reject of this stage becomes a deferral' }),
  }),
];

/** A restriction that needs input the stage does not have yet answers DUNNO (smtpd_check.c). */
export const noInput = (what: string) => dunno(`no ${what} yet`);
