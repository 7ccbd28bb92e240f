/**
 * @module config/params/bans
 * Parameters of the bans feature (src/bans/, docs/bans.md): fail2ban's jail inside the server.
 */
import { p, type ParamDef } from '../types.js';

export const bansParams: ParamDef[] = [
  p.int('mxguard_ban_auth_failures', '10', 'Failed AUTH attempts within $mxguard_ban_find_time that ban a client (fail2ban postfix[mode=auth]); 0: never.', { min: 0 }),
  p.int('mxguard_ban_error_limit', '0', 'Sessions ended by $smtpd_hard_error_limit ("too many errors") within $mxguard_ban_find_time that ban a client (fail2ban postfix[mode=errors]); 0: never.', { min: 0 }),
  p.int('mxguard_ban_pregreet', '0', 'Sessions in which the client talked before the greeting, within $mxguard_ban_find_time, that ban it; 0: never.', { min: 0 }),
  p.int('mxguard_ban_rejects', '0', 'Rejected commands (NOQUEUE reject lines) within $mxguard_ban_find_time that ban a client (fail2ban postfix[mode=normal]); 0: never.', { min: 0 }),
  p.time('mxguard_ban_find_time', '10m', 'The sliding window in which offences are counted (fail2ban findtime).', { min: 1 }),
  p.time('mxguard_ban_time', '10m', 'Length of a first ban (fail2ban bantime).', { min: 1 }),
  p.time('mxguard_ban_max_time', '1w', 'Longest ban: a repeat offender\'s ban grows by $mxguard_ban_time_factor up to this (fail2ban bantime.maxtime).', { min: 1 }),
  p.int('mxguard_ban_time_factor', '2', 'Each further ban of a client lasts this many times longer than the one before (fail2ban bantime.increment with bantime.factor).', { min: 1, max: 1000 }),
  p.time('mxguard_ban_history_time', '1d', 'How long past bans of a client are remembered after its last ban ends, for the growing ban time (fail2ban recidive findtime).', { min: 1 }),
  p.list('mxguard_ban_exceptions', '', 'Clients never banned, in $mynetworks syntax (addresses, networks, cidr: and other tables); $mynetworks is never banned either (fail2ban ignoreip).'),
];
