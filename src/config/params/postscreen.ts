/**
 * @module config/params/postscreen
 * Parameters of the postscreen room (see docs/configuration.md and docs/dnsbl.md): Postfix's
 * weighted DNS list score, applied by mxguard when a client connects, before the greeting.
 */
import { p, type ParamDef } from '../types.js';

export const postscreenParams: ParamDef[] = [
  p.list('postscreen_dnsbl_sites', '', 'DNS lists of the connect-time score, as domain[=filter][*weight] (weight 1 when absent; negative for allow lists). Each pattern whose filter matches an answer adds its weight once.'),
  p.int('postscreen_dnsbl_threshold', '1', 'A client whose combined score is at least this is blocked per $postscreen_dnsbl_action.'),
  p.int('postscreen_dnsbl_whitelist_threshold', '0', 'Name before Postfix 3.6 of postscreen_dnsbl_allowlist_threshold.'),
  p.int('postscreen_dnsbl_allowlist_threshold', '$postscreen_dnsbl_whitelist_threshold', 'When negative: a client whose score is at most this is allowlisted, and lists still pending are not waited for.'),
  p.choice('postscreen_dnsbl_action', 'ignore', ['ignore', 'enforce', 'drop'], 'What happens to a client at or above $postscreen_dnsbl_threshold: ignore (log only), enforce (550 5.7.1 to each RCPT TO, logging helo, sender and recipient), drop (521 5.7.1 and disconnect).'),
  p.list('postscreen_dnsbl_reply_map', '', 'Table mapping a list domain to the name shown in the 5.7.1 reply (to hide a private list\'s name or key).'),
  p.time('postscreen_dnsbl_timeout', '10s', 'Time limit of one list lookup of the connect-time score.', { min: 1 }),
  p.time('postscreen_greet_wait', '6s', 'Longest wait for the connect-time score before the greeting; lists that have not answered by then do not count (Postfix: ${stress?{2}:{6}}s).', { min: 1 }),
];
