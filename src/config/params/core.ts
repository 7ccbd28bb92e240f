/** Parameters about the host's identity, networks and files. postconf(5) names and meanings. */
import { p, type ParamDef } from '../types.js';

export const coreParams: ParamDef[] = [
  p.string('config_directory', '', 'Directory holding main.cf and master.cf (set by --config; empty with the embedded defaults).'),
  p.string('mxguard_state_directory', './var', 'Directory for the spool, mailboxes of the embedded defaults, the pid file and other state. Relative paths are relative to the working directory.'),
  p.string('queue_directory', '${mxguard_state_directory}/spool', 'Directory of the durable mail queue.'),
  p.string('myhostname', '', 'This host\'s fully-qualified name; empty means the system host name (with $mydomain appended when it has no dot).'),
  p.string('mydomain', '', 'This host\'s domain; empty means $myhostname without its first label, or "localdomain".'),
  p.string('myorigin', '$myhostname', 'Domain appended to unqualified sender addresses of locally generated mail (bounces).'),
  p.list('mydestination', '$myhostname, localhost.$mydomain, localhost', 'Domains delivered by $local_transport (mxguard stores them in Maildir like virtual mailboxes).'),
  p.list('mynetworks', '', 'Trusted client networks (CIDR, [ipv6]/len). Empty means derived from $mynetworks_style.'),
  p.choice('mynetworks_style', 'host', ['host', 'subnet', 'class'], 'How to derive $mynetworks when it is empty: host (this machine\'s addresses only), subnet, class (as subnet).', { postfixDefault: 'host (compatibility_level >= 2)' }),
  p.list('relay_domains', '', 'Domains this host relays mail to, beyond its own (compatibility_level >= 2 default: none).'),
  p.list('inet_interfaces', 'all', 'Addresses master.cf services with no host part listen on.'),
  p.choice('inet_protocols', 'all', ['all', 'ipv4', 'ipv6', 'ipv4, ipv6', 'ipv6, ipv4'], 'IP protocols to listen on.'),
  p.string('mail_name', 'mxguard', 'Name in the SMTP greeting and in Received: headers.', { postfixDefault: 'Postfix' }),
  p.string('mail_version', '0.1.0', 'Version string (read-only in spirit).'),
  p.string('compatibility_level', '3.6', 'Postfix compatibility level whose defaults mxguard follows.'),
  p.bool('soft_bounce', 'no', 'Turn every 5xx reject and bounce into a 4xx deferral, for safe testing of a configuration.'),
  p.string('mxguard_passwd_file', '${mxguard_state_directory}/passwd', 'File of SASL users and scrypt hashes, maintained by "mxguard passwd". With --config, "mxguard passwd" uses this parameter too.'),
  p.time('mxguard_shutdown_timeout', '30s', 'On SIGTERM, how long open sessions may finish before they get "421 4.3.2 Service shutting down".', { min: 0 }),
  p.string('mxguard_pid_file', '${mxguard_state_directory}/mxguard.pid', 'File holding the pid of a running "mxguard serve" (used by "mxguard queue flush").'),
  p.int('mxguard_workers', '1', 'Processes that run SMTP sessions. 1: one process does everything. N > 1: N workers run the sessions and the first delivery attempt of what they accept; a primary process owns retries and connection counts (2 uses both cores of a two-core machine). See docs/operations.md.', { min: 1, max: 64 }),
];
