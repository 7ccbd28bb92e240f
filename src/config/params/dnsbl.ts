/**
 * @module config/params/dnsbl
 * Parameters of the dnsbl room (see docs/configuration.md and docs/dnsbl.md): Postfix's DNS list
 * replies for reject_rbl_client and friends, and mxguard's list health.
 */
import { p, type ParamDef } from '../types.js';

export const dnsblParams: ParamDef[] = [
  p.string('default_rbl_reply', '$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}',
    'Reply template of reject_rbl_client and the reject_rhsbl_* restrictions when $rbl_reply_maps has none for the list: $rbl_code, $rbl_class, $rbl_what, $rbl_domain, $rbl_reason (the TXT record; also $rbl_txt), $client_address, $client_name, $reverse_client_name, $helo_name, $sender, $recipient and their _name/_domain parts; ${name?text} and ${name:text} forms. Read unexpanded.'),
  p.int('maps_rbl_reject_code', '554', 'Reply code ($rbl_code) of a client or domain found in a DNS block list.', { min: 400, max: 599 }),
  p.list('rbl_reply_maps', '', 'Tables of reply templates by list argument ("domain" or "domain=filter", as written in the restriction): overrides $default_rbl_reply for that list.'),
  p.list('maps_rbl_domains', '', 'DNS block lists of the deprecated reject_maps_rbl restriction.'),
  p.string('smtpd_expansion_filter', '\\t\\40!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~',
    'Characters allowed in values inserted into RBL reply templates ($rbl_reason, $sender, …); others become "_". C escapes (\\t, \\ooo) as in Postfix. Read unexpanded.'),
  p.int('mxguard_dnsbl_failure_limit', '2', 'Temporary failures (timeout, SERVFAIL, refused query) of a DNS list in a row, each in a different session, after which the list is degraded: skipped until its back-off ends and it answers its RFC 5782 test points again.', { min: 1 }),
  p.time('mxguard_dnsbl_retry_time', '60s', 'How long a degraded or refusing DNS list is skipped before it is checked again with its test points; doubles after each failed check.', { min: 1 }),
  p.time('mxguard_dnsbl_retry_max', '1h', 'Longest time a degraded or refusing DNS list is skipped between two checks.', { min: 1 }),
  p.string('mxguard_dnsbl_health_file', '${mxguard_state_directory}/dnsbl-health.json', 'File where the running server writes the state of each DNS list (read by "mxguard lists"), when a state changes and every $mxguard_dnsbl_health_interval.'),
  p.time('mxguard_dnsbl_health_interval', '60s', 'How often the running server rewrites $mxguard_dnsbl_health_file (counters and last answers).', { min: 1 }),
];
