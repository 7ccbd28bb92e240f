/**
 * @module config/params/dns
 * Parameters of the dns room (see docs/configuration.md and docs/dns.md). Postfix leaves DNS to
 * the system resolver; these are mxguard's own, for its resolver and cache.
 */
import { p, type ParamDef } from '../types.js';

export const dnsParams: ParamDef[] = [
  p.list('mxguard_dns_servers', '', 'DNS servers to ask, in order: "1.2.3.4", "1.2.3.4:5353", "[::1]:53". Empty: the nameserver lines of /etc/resolv.conf (127.0.0.1 if there are none).'),
  p.time('mxguard_dns_timeout', '5s', 'Time limit of one lookup, all servers and retries included; then the result is a timeout (a temporary failure, never evidence of spam).', { min: 0.1, max: 60 }),
  p.time('mxguard_dns_attempt_timeout', '2s', 'Time limit of one query to one server before the next server (or a retry) is tried, within $mxguard_dns_timeout.', { min: 0.05, max: 60 }),
  p.int('mxguard_dns_cache_size', '10000', 'Lookup results kept in the DNS cache (least recently used first out); 0 turns the cache off.', { min: 0 }),
  p.time('mxguard_dns_cache_max_ttl', '1h', 'Longest time an answer stays cached, whatever its TTL.', { min: 0 }),
  p.time('mxguard_dns_negative_cache_max_ttl', '1h', 'Longest time a "no such name" or "no such record" answer stays cached; otherwise its SOA decides (RFC 2308 §5).', { min: 0 }),
  p.time('mxguard_dns_temporary_cache_ttl', '5s', 'How long a timeout, SERVFAIL or refusal is remembered, so that a dead server is not asked again at every connection; 0 never remembers one.', { min: 0, max: 60 }),
];
