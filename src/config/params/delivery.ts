/** Delivery agent selection and agent parameters (transport(5), virtual(8), smtp(8), lmtp(8)). */
import { p, type ParamDef } from '../types.js';

export const deliveryParams: ParamDef[] = [
  p.string('local_transport', 'virtual', 'Transport for $mydestination domains. mxguard has no system users: "virtual" stores them in Maildir.', { postfixDefault: 'local:$myhostname' }),
  p.string('virtual_transport', 'virtual', 'Transport for $virtual_mailbox_domains.'),
  p.string('relay_transport', 'relay', 'Transport for $relay_domains.'),
  p.string('default_transport', 'smtp', 'Transport for all other domains.'),
  p.list('transport_maps', '', 'Tables mapping recipient or domain to transport:nexthop.'),
  p.string('relayhost', '', 'Next hop for remote mail: [host]:port skips MX lookup; empty: deliver to the domain\'s MX.'),
  p.string('virtual_mailbox_base', '${mxguard_state_directory}/mail', 'Root of Maildir mailboxes.'),
  p.list('virtual_mailbox_maps', '', 'Tables mapping recipient to a mailbox path under $virtual_mailbox_base (a trailing / means Maildir). Empty: <base>/<domain>/<localpart>/.'),
  p.list('virtual_mailbox_domains', '$virtual_mailbox_maps', 'Domains whose mail is delivered by $virtual_transport.'),
  p.list('local_recipient_maps', '', 'Tables of valid recipients in $mydestination (empty: any local part is accepted).', { postfixDefault: 'proxy:unix:passwd.byname $alias_maps' }),
  p.time('smtp_connect_timeout', '30s', 'Time limit for connecting to a remote SMTP server.', { min: 1 }),
  p.time('smtp_helo_timeout', '300s', 'Time limit for the greeting and EHLO reply.', { min: 1 }),
  p.time('smtp_data_done_timeout', '600s', 'Time limit for the reply after the end of message.', { min: 1 }),
  p.time('smtp_rcpt_timeout', '300s', 'Time limit for MAIL, RCPT and DATA replies.', { min: 1 }),
  p.string('smtp_helo_name', '$myhostname', 'Name sent in EHLO by the SMTP and LMTP clients.'),
  p.choice('smtp_tls_security_level', 'may', ['', 'none', 'may', 'encrypt'], 'Opportunistic STARTTLS for outbound SMTP.', { postfixDefault: '(empty)' }),
  p.time('lmtp_connect_timeout', '0s', 'Time limit for connecting to an LMTP server (0: the system\'s).', { min: 0 }),
  p.string('lmtp_lhlo_name', '$myhostname', 'Name sent in LHLO.'),
  p.time('mxguard_delivery_timeout', '600s', 'Upper bound of one delivery attempt of any agent.', { min: 1 }),
];
