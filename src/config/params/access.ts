/**
 * @module config/params/access
 * Parameters of access(5) tables and the actions they trigger in the SMTP server
 * (postconf(5); smtpd_check.c check_table_result(), check_mail_access()).
 */
import { p, type ParamDef } from '../types.js';

export const accessParams: ParamDef[] = [
  p.int('access_map_defer_code', '450', 'Reply code of an access map DEFER, DEFER_IF_PERMIT and DEFER_IF_REJECT.', { min: 400, max: 499 }),
  p.string('smtpd_null_access_lookup_key', '<>', 'The key check_sender_access looks up for the null sender address.'),
  p.string('recipient_delimiter', '', 'Characters that separate a user name from an address extension (user+ext); access lookups then also try user@domain and user@.'),
  p.list('smtpd_log_access_permit_actions', '', 'Permit actions to log as "permit" lines (e.g. permit_mynetworks, OK, DISCARD; "static:all" logs every one).'),
  p.list('debug_peer_list', '', 'Clients (network list) whose sessions log the full restriction trace of every decision.'),
  p.list('receive_override_options', '', 'Checks to skip for mail received by this service (no_unknown_recipient_checks: no reject_unlisted_recipient/sender, e.g. for mail coming back from a content filter).'),
  p.choice('mxguard_trace_log', 'no', ['no', 'reject', 'all'], 'Log the restriction trace of decisions for every client: no, only rejects and warnings, or all.'),
];
