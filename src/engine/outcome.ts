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
 * The printable form of a reject (smtpd_check_reject()): non-printable characters become
 * spaces and the line is cut at 510 characters (RFC 5321 §4.5.3.1.5 allows 512 with CRLF).
 */
export function printableReply(r: Reply): Reply {
  let text = r.text.map((t) => t.replace(/[\x00-\x1f\x7f]/g, ' '));
  const prefix = `${r.code} ${r.status ? `x.${r.status} ` : ''}`.length;
  const joined = text.join(' ');
  if (prefix + joined.length > MAX_REPLY) text = [joined.slice(0, MAX_REPLY - prefix)];
  return { ...r, text };
}

/**
 * The final form of a reject: printable, and with soft_bounce = yes a 5xx becomes 4xx so that
 * a configuration can be tried without losing mail (postconf(5) soft_bounce).
 */
export function finalReply(cfg: Config, r: Reply): Reply {
  const out = printableReply(r);
  return cfg.bool('soft_bounce') ? softened(out) : out;
}

/** `d.ddd.ddd` with class 2, 4 or 5 (dsn_valid()). */
const DSN = /^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

/**
 * dsn_split(): an RFC 3463 code at the start of an access-map or policy text is taken as the
 * reply's enhanced code; otherwise `def` applies. Returns the detail (without class digit) and
 * the rest of the text.
 */
export function splitDsn(def: string, text: string): { status: StatusDetail; text: string } {
  const m = DSN.exec(text);
  const dsn = m ? m[0] : def;
  const rest = m ? text.slice(m[0].length).replace(/^\s+/, '') : text;
  return { status: dsn.slice(2) as StatusDetail, text: rest };
}

/**
 * smtpd_dsn_fix(): an address status X.1.Y in a text chosen by the administrator is mapped to
 * the variant for the address being rejected (sender X.1.7/X.1.8, recipient X.1.1–X.1.6), and
 * to X.0.0 when what is rejected is not an address (client, HELO, …).
 */
export function fixDsn(status: StatusDetail, replyClass: string): StatusDetail {
  const m = /^1\.(\d+)$/.exec(status);
  if (!m) return status;
  const y = m[1]!;
  if (replyClass === 'Sender address') return `1.${({ '1': 7, '2': 8, '3': 7, '4': 7, '5': 0, '6': 7, '7': 7, '8': 8 } as Record<string, number>)[y] ?? 0}` as StatusDetail;
  if (replyClass === 'Recipient address') return `1.${({ '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 3, '8': 2 } as Record<string, number>)[y] ?? 0}` as StatusDetail;
  return '0.0';
}
