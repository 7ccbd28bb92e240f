/**
 * @module config/params/limits
 * Parameters of the limits feature (src/limits/, docs/limits.md): anvil(8)'s per-client rate
 * limits under Postfix's names, and mxguard's declarative rate rules.
 */
import { p, type ParamDef } from '../types.js';

export const limitsParams: ParamDef[] = [
  p.time('anvil_rate_time_unit', '60s', 'The time unit of the smtpd_client_*_rate_limit counters: a fixed window that starts with the first event of a client and ends this long after it.', { min: 1 }),
  p.int('smtpd_client_connection_rate_limit', '0', 'Connections a client may make to this service per $anvil_rate_time_unit; 0: no limit. Over it: 421 4.7.0 <myhostname> Error: too many connections from <address>.', { min: 0 }),
  p.int('smtpd_client_message_rate_limit', '0', 'MAIL FROM requests a client may make to this service per $anvil_rate_time_unit, accepted or not; 0: no limit. Over it: 450 4.7.1 Error: too much mail from <address>.', { min: 0 }),
  p.int('smtpd_client_recipient_rate_limit', '0', 'RCPT TO (and VRFY) requests a client may make to this service per $anvil_rate_time_unit, accepted or not; 0: no limit. Over it: 450 4.7.1 Error: too many recipients from <address>.', { min: 0 }),
  p.int('smtpd_client_auth_rate_limit', '0', 'AUTH commands a client may send to this service per $anvil_rate_time_unit; 0: no limit. Over it: 450 4.7.1 Error: too many AUTH commands from <address>.', { min: 0 }),
  p.int('smtpd_client_new_tls_session_rate_limit', '0', 'STARTTLS handshakes (new TLS sessions) a client may start with this service per $anvil_rate_time_unit; 0: no limit. Over it: 421 4.7.0 <myhostname> Error: too many new TLS sessions from <address>.', { min: 0 }),
  p.list('mxguard_rate_limits', '', 'Declarative rate rules (postfwd\'s rate()/rcpt()/size() in one line each): "KEY METRIC LIMIT/WINDOW [LIMIT/WINDOW ...] [action=defer|reject] [window=sliding|fixed]", rules separated by commas or written one per line in a file named by an absolute path. KEY: client_address, sasl_username, sender_address, sender_domain; METRIC: connections, messages, recipients, bytes, auth_failures. Clients in $smtpd_client_event_limit_exceptions are exempt. See docs/limits.md.'),
];
