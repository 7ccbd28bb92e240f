/**
 * @module config/params/greylist
 * Parameters of the greylist feature: the check_greylist restriction (src/engine/restrictions/
 * greylist.ts, src/greylist/), postgrey's behaviour and options under mxguard names (see
 * docs/greylisting.md and docs/configuration.md).
 */
import { p, type ParamDef } from '../types.js';

export const greylistParams: ParamDef[] = [
  p.time('mxguard_greylist_delay', '300s', 'How long a new (client network, sender, recipient) triplet is deferred before a retry passes (postgrey --delay).', { min: 1 }),
  p.time('mxguard_greylist_max_age', '35d', 'A triplet or auto-allowlisted client not seen for this long is forgotten (postgrey --max-age).', { min: 1 }),
  p.time('mxguard_greylist_retry_window', '2d', 'A first retry later than this after the first attempt starts the delay again (postgrey --retry-window).', { min: 1 }),
  p.int('mxguard_greylist_auto_allowlist_clients', '5', 'A client address that passed greylisting this many times (counted at most once an hour) is no longer greylisted; 0 turns this off (postgrey --auto-whitelist-clients).', { min: 0 }),
  p.int('mxguard_greylist_client_prefix', '24', 'Prefix length of the IPv4 client network in the triplet; 32 uses the full address (postgrey --ipv4cidr, --lookup-by-host).', { min: 0, max: 32 }),
  p.int('mxguard_greylist_client_prefix6', '64', 'Prefix length of the IPv6 client network in the triplet; 128 uses the full address (postgrey --ipv6cidr).', { min: 0, max: 128 }),
  p.string('mxguard_greylist_text', 'Greylisted, see http://postgrey.schweikert.ch/help/%r.html', 'Text of the greylisting deferral: %s is replaced by the seconds left, %r by the recipient domain; a leading RFC 3463 code replaces 4.2.0 (postgrey --greylist-text).'),
  p.choice('mxguard_greylist_action', 'defer_if_permit', ['defer_if_permit', 'defer'], 'defer_if_permit: the deferral is sent only if nothing later in the stage rejects (postgrey\'s DEFER_IF_PERMIT); defer: at once.'),
  p.list('mxguard_greylist_client_allowlist', '', 'Files of clients never greylisted, in postgrey\'s whitelist_clients format: /regex/ (client name), IPv4/IPv6 address or network, or a domain (and its subdomains). A missing file whose name ends in .local is ignored.'),
  p.list('mxguard_greylist_recipient_allowlist', '', 'Files of recipients never greylisted, in postgrey\'s whitelist_recipients format: /regex/, user@domain, user@, or domain.'),
  p.bool('mxguard_greylist_spf_client', 'yes', 'When SPF passes for the sender at this client, the client part of the triplet is the sender\'s SPF domain instead of the client network: a sender that moves between the addresses its SPF record authorises is greylisted once (needs mxguard_mailauth_enable; the policy service has no SPF result and uses the network).'),
  p.list('mxguard_greylist_only_if', '', 'Greylist only when one of these holds (empty: always): no_fcrdns (the client has no forward-confirmed reverse name), dnsbl_listed (the client address is listed by one of $mxguard_greylist_dnsbl_sites).'),
  p.list('mxguard_greylist_dnsbl_sites', '$postscreen_dnsbl_sites', 'DNS lists asked for the dnsbl_listed condition of $mxguard_greylist_only_if, as domain[=filter][*weight]; entries with a negative weight (allow lists) are ignored.'),
];
