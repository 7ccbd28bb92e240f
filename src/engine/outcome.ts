/**
 * @module engine/outcome
 * Building blocks for restriction results (engine/types Outcome) and the one place where a
 * policy reject gets its final form (smtpd_check.c smtpd_check_reject()).
 */
import type { Config } from '../config/config.js';
import { reply, softened, type Reply, type StatusDetail } from '../smtp/reply.js';
import type { Outcome } from './types.js';

export const dunno = (note: string): Outcome => ({ kind: 'dunno', note });
export const permit = (note: string): Outcome => ({ kind: 'permit', note });
export const reject = (r: Reply, note: string): Outcome => ({ kind: 'reject', reply: r, note });

/** Postfix's answer to a configuration mistake found while evaluating: never softened or warned away. */
export const SERVER_CONFIGURATION_ERROR: Reply = reply(451, '3.5', 'Server configuration error');
export const configError = (note: string): Outcome => ({ kind: 'error', reply: SERVER_CONFIGURATION_ERROR, note });

/** A policy reply; the enhanced code's class digit always follows the reply code (Reply contract). */
export function policyReply(code: number, status: StatusDetail, text: string): Reply {
  // smtpd_check_reject(): a code outside 400..599 is a configuration mistake; Postfix logs it
  // and answers with a generic deferral instead.
  if (!Number.isInteger(code) || code < 400 || code > 599) return reply(450, '7.1', 'Service unavailable');
  return reply(code, status, text);
}

const MAX_REPLY = 510;

/**
 * The final form of a reject, applied once by the evaluator (smtpd_check_reject()):
 * non-printable characters become spaces, the line is cut at 510 characters (RFC 5321
 * §4.5.3.1.5 allows 512 with CRLF), and with soft_bounce = yes a 5xx becomes 4xx so that a
 * configuration can be tried without losing mail (postconf(5) soft_bounce).
 */
export function finalReply(cfg: Config, r: Reply): Reply {
  let text = r.text.map((t) => t.replace(/[\x00-\x1f\x7f]/g, ' '));
  const prefix = `${r.code} ${r.status ? `x.${r.status} ` : ''}`.length;
  const joined = text.join(' ');
  if (prefix + joined.length > MAX_REPLY) text = [joined.slice(0, MAX_REPLY - prefix)];
  const out: Reply = { ...r, text };
  return cfg.bool('soft_bounce') ? softened(out) : out;
}
