/**
 * @module engine/restrictions/dns-checks
 * The DNS-based restrictions that are not DNS lists (postconf(5); smtpd_check.c
 * reject_unknown_client(), reject_unknown_reverse_name(), reject_unknown_hostname(),
 * reject_unknown_address() / reject_unknown_mailhost(), permit_mx_backup()). Replies are Postfix
 * 3.7's, checked against the strings of its smtpd binary:
 *
 * - reject_unknown_client_hostname (reject_unknown_client): the client name was not verified
 *   (no PTR, or the PTR name does not resolve back to the address; smtp/client-name):
 *   `$unknown_client_reject_code 4.7.25 Client host rejected: cannot find your hostname, [ADDR]`,
 *   450 when the lookup failed temporarily. Immediate, never defer_if_permit: an access table
 *   later in the list may depend on the name (smtpd_check.c explains why).
 * - reject_unknown_reverse_client_hostname: no PTR name: the same with 4.7.1 and
 *   `cannot find your reverse hostname, [ADDR]`.
 * - reject_unknown_helo_hostname (reject_unknown_hostname): no A, AAAA or MX record:
 *   `$unknown_hostname_reject_code 4.7.1 <HELO>: Helo command rejected: Host not found`
 *   (`Malformed DNS server reply` for an MX answer with a bad host name). A nullMX is fine (an
 *   MTA name may have one). An address literal gets the invalid-address check instead
 *   (`$invalid_hostname_reject_code 5.5.2 … invalid ip address`); a bare IP address or a name
 *   with a trailing dot is never sent to the DNS and is "Host not found".
 * - reject_unknown_sender_domain (reject_unknown_address) / reject_unknown_recipient_domain:
 *   MX, then A and AAAA, of the domain the address resolves to; skipped for the null sender,
 *   for address literals and for final destinations (local, virtual alias and virtual mailbox
 *   domains; not relay domains, which Postfix does look up):
 *   `$unknown_address_reject_code 4.1.8 <a>: Sender address rejected: Domain not found`
 *   (4.1.2 / Recipient for the recipient); nullMX (RFC 7505): `550 5.7.27 <a>: Sender address
 *   rejected: Domain d does not accept mail (nullMX)`, `556 5.1.10 …` for the recipient (fixed
 *   codes since Postfix 3.0).
 * - Temporary DNS failures (SERVFAIL, REFUSED, timeout, garbage) of the HELO and domain checks
 *   give `450 … Host not found` / `450 … Domain not found` through
 *   $unknown_helo_hostname_tempfail_action / $unknown_address_tempfail_action (default
 *   $reject_tempfail_action = defer_if_permit: sent only if nothing else rejects; `defer`: at
 *   once). Never a 5xx. With warn_if_reject a defer_if_permit becomes a logged warning.
 * - permit_mx_backup: permit a recipient whose domain is a final or relay destination, or
 *   whose domain lists this host as a backup MX (not a primary, whose mail would loop), with
 *   every address of every primary MX in $permit_mx_backup_networks when that is set. "This
 *   host" is $mydestination for MX names, and for MX addresses the explicit addresses of
 *   $inet_interfaces, $proxy_interfaces and single-host $mynetworks entries (engine/address-class).
 *   A temporary failure sets defer_if_reject (`450 4.4.4 <r>: Recipient address rejected: Unable
 *   to look up mail exchanger information: Host not found, try again`), so that a later 5xx of
 *   the stage becomes that 4xx.
 */
import { authorizedDestination } from '../address-class.js';
import { REPLY_CLASS } from '../access.js';
import { NetworkList } from '../networks.js';
import { dunno, permit, policyReply, reject } from '../outcome.js';
import { parentStyle } from '../patterns.js';
import type { Outcome } from '../types.js';
import type { Reply, StatusDetail } from '../../smtp/reply.js';
import { alias } from './alias.js';
import { defineRestriction, type RestrictionDef, type RestrictionEnv } from './define.js';
import { addressTypes, hostAddresses, lookupTypes } from './dns-status.js';
import { noInput } from './generic.js';
import { validAddressLiteral } from './hostname-syntax.js';

const warn = (env: RestrictionEnv, text: string) => env.run.events.push({ action: 'warning', text });

type PeerStatus = 'ok' | 'temporary' | 'permanent';

/** ClientInfo statuses, with the documented defaults when absent. */
function peerStatus(name: string, status: PeerStatus | undefined): PeerStatus {
  return status ?? (name.toLowerCase() === 'unknown' ? 'permanent' : 'ok');
}

/** A temporary failure, per a *_tempfail_action parameter (DEFER_IF_PERMIT2()). */
function tempfail(env: RestrictionEnv, param: string, r: Reply, note: string): Outcome {
  return env.facts.config.get(param) === 'defer'
    ? reject(r, `${note}; ${param} = defer`)
    : { kind: 'defer_if_permit', reply: r, note: `${note}; ${param} = defer_if_permit` };
}

const rejectUnknownClientHostname = defineRestriction({
  name: 'reject_unknown_client_hostname',
  mayPermit: false,
  doc: 'Reject when the client address has no name, or the name does not resolve back to the address ($unknown_client_reject_code 4.7.25; 450 on a temporary failure).',
  evaluate(env) {
    const c = env.tx.client;
    const st = peerStatus(c.name, c.nameStatus);
    if (st === 'ok') return dunno(`client name ${c.name} verified`);
    const code = st === 'permanent' ? env.facts.config.int('unknown_client_reject_code') : 450;
    return reject(policyReply(code, '7.25', `Client host rejected: cannot find your hostname, [${c.address}]`),
      st === 'temporary' ? 'client name lookup failed temporarily' : 'client address has no verified name');
  },
});

const rejectUnknownReverseClientHostname = defineRestriction({
  name: 'reject_unknown_reverse_client_hostname',
  mayPermit: false,
  doc: 'Reject a client address that has no PTR name ($unknown_client_reject_code 4.7.1; 450 on a temporary failure).',
  evaluate(env) {
    const c = env.tx.client;
    const st = peerStatus(c.reverseName, c.reverseNameStatus);
    if (st === 'ok') return dunno(`client reverse name ${c.reverseName}`);
    const code = st === 'permanent' ? env.facts.config.int('unknown_client_reject_code') : 450;
    return reject(policyReply(code, '7.1', `Client host rejected: cannot find your reverse hostname, [${c.address}]`),
      st === 'temporary' ? 'PTR lookup failed temporarily' : 'client address has no PTR name');
  },
});

const rejectUnknownHeloHostname = defineRestriction({
  name: 'reject_unknown_helo_hostname',
  usesDns: true,
  mayPermit: false,
  doc: 'Reject a HELO/EHLO name that has no A, AAAA or MX record ($unknown_hostname_reject_code 4.7.1; a temporary failure: $unknown_helo_hostname_tempfail_action with 450); an address literal gets the invalid-address check.',
  async evaluate(env) {
    const helo = env.tx.helo;
    if (helo === undefined) return noInput('HELO/EHLO');
    const cfg = env.facts.config;
    const who = `<${helo}>: ${REPLY_CLASS.helo} rejected`;
    if (helo.startsWith('[')) {
      // reject_invalid_hostaddr(): a literal is only checked for syntax.
      if (validAddressLiteral(helo)) return dunno(`${helo} is a valid address literal`);
      return reject(policyReply(cfg.int('invalid_hostname_reject_code'), '5.2', `${who}: invalid ip address`), `${helo} is not a valid address literal`);
    }
    const r = await lookupTypes(env.facts.dns(), helo, ['A', 'AAAA', 'MX'], ['ok'], (t) => warn(env, t));
    switch (r.status) {
      case 'ok': return dunno(`${r.detail}: found`);
      case 'nullmx': return dunno(`${r.detail}: a nullMX is allowed for an MTA name`);
      case 'retry': return tempfail(env, 'unknown_helo_hostname_tempfail_action', policyReply(450, '7.1', `${who}: Host not found`), `${r.detail}: temporary failure`);
      case 'inval': return reject(policyReply(cfg.int('unknown_hostname_reject_code'), '7.1', `${who}: Malformed DNS server reply`), `${r.detail}: malformed answer`);
      case 'notfound': return reject(policyReply(cfg.int('unknown_hostname_reject_code'), '7.1', `${who}: Host not found`), `${r.detail}: no A, AAAA or MX record`);
    }
  },
});

/** reject_unknown_address() + reject_unknown_mailhost(). */
async function unknownAddress(env: RestrictionEnv, address: string, sender: boolean): Promise<Outcome> {
  const cfg = env.facts.config;
  const resolved = env.facts.resolver().resolve(address);
  const domain = resolved.domain;
  // Local, virtual alias and virtual mailbox domains (RESOLVE_CLASS_FINAL) are ours to know.
  if (resolved.addressClass === 'local' || resolved.addressClass === 'virtual_alias' || resolved.addressClass === 'virtual') {
    return dunno(`${domain} is a final destination (${resolved.reason})`);
  }
  if (domain.startsWith('[') && domain.endsWith(']')) return dunno(`${domain} is an address literal`);
  const cls = sender ? REPLY_CLASS.sender : REPLY_CLASS.recipient;
  const who = `<${address}>: ${cls} rejected`;
  const dsn: StatusDetail = sender ? '1.8' : '1.2';
  const r = await lookupTypes(env.facts.dns(), domain, ['MX', 'A', 'AAAA'], ['ok', 'inval', 'nullmx'], (t) => warn(env, t));
  switch (r.status) {
    case 'ok': return dunno(`${r.detail}: found`);
    case 'nullmx':
      return reject(policyReply(sender ? 550 : 556, sender ? '7.27' : '1.10', `${who}: Domain ${domain} does not accept mail (nullMX)`), `${r.detail}: nullMX (RFC 7505)`);
    case 'retry':
      return tempfail(env, 'unknown_address_tempfail_action', policyReply(450, dsn, `${who}: Domain not found`), `${r.detail}: temporary failure`);
    case 'inval':
      return reject(policyReply(cfg.int('unknown_address_reject_code'), dsn, `${who}: Malformed DNS server reply`), `${r.detail}: malformed answer`);
    case 'notfound':
      return reject(policyReply(cfg.int('unknown_address_reject_code'), dsn, `${who}: Domain not found`), `${r.detail}: no MX, A or AAAA record`);
  }
}

const rejectUnknownSenderDomain = defineRestriction({
  name: 'reject_unknown_sender_domain',
  usesDns: true,
  mayPermit: false,
  doc: 'Reject a sender domain that has no MX, A or AAAA record ($unknown_address_reject_code 4.1.8), or a nullMX (550 5.7.27); a temporary failure: $unknown_address_tempfail_action with 450.',
  evaluate(env) {
    const s = env.tx.sender;
    if (!s) return noInput('sender (or the null sender)');
    return unknownAddress(env, s, true);
  },
});

const rejectUnknownRecipientDomain = defineRestriction({
  name: 'reject_unknown_recipient_domain',
  usesDns: true,
  mayPermit: false,
  doc: 'Reject a recipient domain that has no MX, A or AAAA record ($unknown_address_reject_code 4.1.2), or a nullMX (556 5.1.10); a temporary failure: $unknown_address_tempfail_action with 450.',
  evaluate(env) {
    const r = env.tx.recipient;
    if (!r) return noInput('recipient');
    return unknownAddress(env, r, false);
  },
});

/** Whether `a` is one of this host's addresses (own_inet_addr(), proxy_inet_addr()). */
function isOwnAddress(env: RestrictionEnv, a: string): boolean {
  const lit = a.includes(':') ? `[ipv6:${a}]` : `[${a}]`;
  return env.facts.resolver().isLocalDomain(lit);
}

/**
 * i_am_mx(): an MX host name that is local ($mydestination), else an MX host address that is
 * ours. An address lookup failure is remembered as a defer_if_reject reason.
 */
async function iAmMx(env: RestrictionEnv, hosts: readonly string[], recipient: string, defers: Reply[]): Promise<string | undefined> {
  const resolver = env.facts.resolver();
  for (const h of hosts) if (resolver.isLocalDomain(h)) return `${h} is local`;
  for (const h of hosts) {
    const a = await hostAddresses(env.facts.dns(), env.facts.config, h);
    if (!a.ok) {
      defers.push(policyReply(450, '4.4', `<${recipient}>: ${REPLY_CLASS.recipient} rejected: Unable to look up mail exchanger host ${h}: ${a.error}`));
      continue;
    }
    const mine = a.addresses.find((x) => isOwnAddress(env, x));
    if (mine) return `${h} has this host's address ${mine}`;
  }
  return undefined;
}

const permitMxBackup = defineRestriction({
  name: 'permit_mx_backup',
  usesDns: true,
  mayPermit: true,
  doc: 'Permit a recipient domain for which this host is a backup MX, not a primary (every primary MX address in $permit_mx_backup_networks when that is set); final and relay destinations too.',
  async evaluate(env) {
    const rcpt = env.tx.recipient;
    if (!rcpt) return noInput('recipient');
    const cfg = env.facts.config;
    const r = env.facts.resolver().resolve(rcpt);
    // As permit_auth_destination for final and relay destinations.
    const auth = authorizedDestination(r, cfg.bool('allow_untrusted_routing'));
    if (r.routed && !cfg.bool('allow_untrusted_routing')) return dunno(auth.why);
    if (r.addressClass !== 'default') return permit(`${r.recipient}: ${r.reason}`);
    const domain = r.domain;
    if (domain.startsWith('[') && domain.endsWith(']')) return dunno(`${domain}: an address literal that is not this host`);
    const who = `<${rcpt}>: ${REPLY_CLASS.recipient} rejected`;
    const mx = await lookupTypes(env.facts.dns(), domain, ['MX'], [], (t) => warn(env, t));
    if (mx.status === 'retry') {
      return { kind: 'defer_if_reject', reply: policyReply(450, '4.4', `${who}: Unable to look up mail exchanger information: ${mx.error}`), note: `${mx.detail}: temporary failure` };
    }
    if (mx.status !== 'ok') return dunno(`${mx.detail}: no MX hosts`);
    const sorted = mx.records.flatMap((x) => (x.type === 'MX' ? [{ pref: x.preference, host: x.exchange.replace(/\.$/, '').toLowerCase() }] : []))
      .sort((a, b) => a.pref - b.pref);
    const best = sorted[0]!.pref;
    const primaries = sorted.filter((x) => x.pref === best).map((x) => x.host);
    const backups = sorted.filter((x) => x.pref !== best).map((x) => x.host);
    const defers: Reply[] = [];
    // A defer_if_reject reason is kept even when the answer is a permit (Postfix raises the flag).
    const finish = (o: Outcome): Outcome => {
      if (!defers.length) return o;
      if (o.kind === 'dunno') return { kind: 'defer_if_reject', reply: defers[0]!, note: o.note };
      env.run.deferIfReject ??= defers[0]!;
      return { ...o, note: `${o.note}; defer_if_reject: ${defers[0]!.text.join(' ')}` } as Outcome;
    };
    const primary = await iAmMx(env, primaries, rcpt, defers);
    if (primary) return finish(dunno(`this host is a primary MX of ${domain} (${primary})`));
    const backup = backups.length ? await iAmMx(env, backups, rcpt, defers) : undefined;
    if (!backup) return finish(dunno(`this host is not an MX host of ${domain} (${sorted.map((x) => `${x.pref} ${x.host}`).join(', ')})`));
    if (cfg.list('permit_mx_backup_networks').length) {
      const nets = new NetworkList(cfg.list('permit_mx_backup_networks'), {
        name: 'permit_mx_backup_networks',
        parentMatchesSubdomains: parentStyle(cfg.list('parent_domain_matches_subdomains'), 'permit_mx_backup_networks'),
      });
      for (const host of primaries) {
        // all_auth_mx_addr(): every address of every primary MX must be listed.
        const a = await lookupTypes(env.facts.dns(), host, addressTypes(cfg), [], (t) => warn(env, t));
        if (a.status !== 'ok') {
          defers.push(policyReply(450, '4.4', `${who}: Unable to look up host ${host} as mail exchanger: ${a.error}`));
          return finish(dunno(`primary MX ${host}: ${a.detail}`));
        }
        for (const rec of a.records) {
          if (rec.type !== 'A' && rec.type !== 'AAAA') continue;
          const m = nets.match(rec.address, host);
          if (!m || m.negated) return finish(dunno(`primary MX ${host} address ${rec.address} is not in permit_mx_backup_networks`));
        }
      }
    }
    return finish(permit(`this host is a backup MX of ${domain} (${backup})`));
  },
});

export const dnsCheckRestrictions: RestrictionDef[] = [
  rejectUnknownClientHostname,
  rejectUnknownReverseClientHostname,
  rejectUnknownHeloHostname,
  rejectUnknownSenderDomain,
  rejectUnknownRecipientDomain,
  permitMxBackup,
  alias('reject_unknown_client', rejectUnknownClientHostname, 'Name before Postfix 2.3'),
  alias('reject_unknown_hostname', rejectUnknownHeloHostname, 'Name before Postfix 2.3'),
  alias('reject_unknown_address', rejectUnknownSenderDomain, 'Internal Postfix name'),
];
