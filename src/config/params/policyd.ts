/**
 * @module config/params/policyd
 * Parameters of `mxguard policy`, the Postfix policy delegation service (src/policyd/, see
 * docs/policy.md and docs/configuration.md).
 */
import { p, type ParamDef } from '../types.js';

export const policydParams: ParamDef[] = [
  p.string('mxguard_policy_listen', '127.0.0.1:10023', 'Where `mxguard policy` listens: host:port, [ipv6]:port, or unix:/path (or an absolute path) for a UNIX-domain socket.'),
  p.list('mxguard_policy_restrictions', 'check_greylist', 'Restrictions evaluated for each policy request, as in smtpd_recipient_restrictions (reply texts name the recipient); the decision becomes the action sent to Postfix.'),
  p.time('mxguard_policy_read_timeout', '100s', 'How long `mxguard policy` waits for the rest of a request, or for the next one on an idle connection, before closing it (Postfix keeps connections for $smtpd_policy_service_max_idle).', { min: 1 }),
  p.int('mxguard_policy_request_limit', '102400', 'Largest request in bytes; a longer one closes the connection.', { min: 1024 }),
  p.int('mxguard_policy_connection_limit', '1000', 'Most simultaneous client connections; more are closed at once.', { min: 1 }),
];
