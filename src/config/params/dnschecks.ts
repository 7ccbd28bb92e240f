/**
 * @module config/params/dnschecks
 * Parameters of the DNS-based SMTP server restrictions that are not DNS lists (postconf(5);
 * smtpd_check.c reject_unknown_client(), reject_unknown_hostname(), reject_unknown_mailhost(),
 * permit_mx_backup()): reply codes, what a temporary DNS failure does, and the networks a
 * primary MX must be in for permit_mx_backup. Defaults are Postfix 3.7's (`postconf -d`).
 */
import { p, type ParamDef } from '../types.js';

const TEMPFAIL = ['defer', 'defer_if_permit'] as const;

export const dnsCheckParams: ParamDef[] = [
  p.int('unknown_client_reject_code', '450', 'Reply code of reject_unknown_client_hostname and reject_unknown_reverse_client_hostname when the name lookup failed permanently (a temporary failure always gets 450).', { min: 400, max: 599 }),
  p.int('unknown_hostname_reject_code', '450', 'Reply code of reject_unknown_helo_hostname when the HELO/EHLO name has no A, AAAA or MX record.', { min: 400, max: 599 }),
  p.int('unknown_address_reject_code', '450', 'Reply code of reject_unknown_sender_domain and reject_unknown_recipient_domain when the domain has no MX, A or AAAA record (a nullMX always gets 550 or 556).', { min: 400, max: 599 }),
  p.choice('reject_tempfail_action', 'defer_if_permit', TEMPFAIL, 'What a temporary failure of a reject_unknown_* check does by default: defer at once (450), or defer_if_permit (450 only if nothing else rejects).'),
  p.choice('unknown_helo_hostname_tempfail_action', '$reject_tempfail_action', TEMPFAIL, 'What a temporary DNS failure of reject_unknown_helo_hostname does: defer or defer_if_permit.'),
  p.choice('unknown_address_tempfail_action', '$reject_tempfail_action', TEMPFAIL, 'What a temporary DNS failure of reject_unknown_sender_domain and reject_unknown_recipient_domain does: defer or defer_if_permit.'),
  p.list('permit_mx_backup_networks', '', 'With permit_mx_backup: permit only when every address of every primary MX host of the domain matches this network list (empty: no such condition).'),
];
