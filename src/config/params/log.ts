/** Logging parameters. */
import { p, type ParamDef } from '../types.js';

export const logParams: ParamDef[] = [
  p.string('maillog_file', '', 'File to append Postfix-format log lines to; empty (the mxguard default) means standard output. "/dev/stdout" and "/dev/stderr" work too.'),
  p.string('syslog_name', 'postfix', 'Program prefix of log lines (postfix/smtpd[pid]); kept as "postfix" so pflogsumm and fail2ban read mxguard\'s logs unchanged.'),
  p.bool('smtpd_client_port_logging', 'no', 'Log the client port after the address (name[addr]:port).'),
];
