/**
 * @module engine/restrictions/dns
 * Restrictions that need DNS lookups, address verification or a policy server, which mxguard
 * does not have yet. Each is declared with its Postfix name, arguments and whether it can
 * permit, so that lists naming them parse, audit/ can reason about them and start-up warns;
 * each answers DUNNO with the reason until its dependency arrives. Arguments that Postfix
 * itself refuses (a check_*_access without `type:table`, a policy service without
 * `transport:server`) are configuration errors here too.
 *
 * Replies they will give (Postfix 3.7), for reference:
 * - reject_unknown_client_hostname: $unknown_client_reject_code (450) 4.7.25 "Client host
 *   rejected: cannot find your hostname, [ADDR]"; reverse: 4.7.1 "... reverse hostname ...".
 * - reject_unknown_helo_hostname: $unknown_hostname_reject_code (450) 4.7.1 "<HELO>: Helo
 *   command rejected: Host not found".
 * - reject_unknown_sender/recipient_domain: $unknown_address_reject_code (450) 4.1.8 / 4.1.2
 *   "<ADDR>: … rejected: Domain not found"; nullMX 550 5.7.27 / 556 5.1.10.
 * - reject_rbl_client and the rhsbl family: $maps_rbl_reject_code (554) 5.7.1 from
 *   $default_rbl_reply / $rbl_reply_maps.
 * - reject_unverified_sender/recipient: $unverified_*_reject_code (450), 4.1.7 / 4.1.1.
 */
import { configError, dunno } from '../outcome.js';
import type { Outcome } from '../types.js';
import { alias } from './alias.js';
import { defineRestriction, type RestrictionDef } from './define.js';
import { badTableArg } from './table-arg.js';

const NEEDS_DNS = 'needs the DNS resolver (not yet in mxguard)';
const NEEDS_VERIFY = 'needs address verification, the verify(8) service (not yet in mxguard)';
const NEEDS_POLICY = 'policy service client not yet in mxguard';

function pending(name: string, opts: {
  args?: number; mayPermit: boolean; reason: string; doc: string; check?: (args: readonly string[]) => Outcome | undefined;
}): RestrictionDef {
  return defineRestriction({
    name,
    args: opts.args ?? 0,
    mayPermit: opts.mayPermit,
    unavailable: opts.reason,
    doc: opts.doc,
    evaluate(_env, args) {
      return opts.check?.(args) ?? dunno(`not evaluated: ${opts.reason}`);
    },
  });
}

/** check_{client,reverse_client_hostname,helo,sender,recipient}_{a,mx,ns}_access. */
function serverAccess(): RestrictionDef[] {
  const targets: [string, string][] = [
    ['client', 'the client host name'],
    ['reverse_client_hostname', 'the client reverse (PTR) name'],
    ['helo', 'the HELO/EHLO name'],
    ['sender', 'the sender domain'],
    ['recipient', 'the recipient domain'],
  ];
  const kinds: [string, string][] = [
    ['a', 'IP addresses'],
    ['mx', 'MX hosts (the domain itself when it has no MX) and their IP addresses'],
    ['ns', 'DNS servers (of the nearest parent with NS records) and their IP addresses'],
  ];
  const out: RestrictionDef[] = [];
  for (const [target, what] of targets) {
    for (const [kind, servers] of kinds) {
      const name = `check_${target}_${kind}_access`;
      out.push(pending(name, {
        args: 1, mayPermit: false, reason: NEEDS_DNS,
        doc: `Look up the ${servers} of ${what} in an access(5) table; OK is not allowed (451 4.3.5).`,
        check: (args) => badTableArg(name, args[0]!),
      }));
    }
  }
  return out;
}

const rejectUnknownClientHostname = pending('reject_unknown_client_hostname', {
  mayPermit: false, reason: NEEDS_DNS,
  doc: 'Reject when the client address has no name, or the name does not resolve back to the address ($unknown_client_reject_code; 450 on a temporary failure).',
});
const rejectUnknownHeloHostname = pending('reject_unknown_helo_hostname', {
  mayPermit: false, reason: NEEDS_DNS,
  doc: 'Reject a HELO/EHLO name that has no A, AAAA or MX record ($unknown_hostname_reject_code).',
});
const rejectUnknownSenderDomain = pending('reject_unknown_sender_domain', {
  mayPermit: false, reason: NEEDS_DNS,
  doc: 'Reject a sender domain that has no MX, A or AAAA record, or a nullMX ($unknown_address_reject_code).',
});
const rejectRblClient = pending('reject_rbl_client', {
  args: 1, mayPermit: false, reason: NEEDS_DNS,
  doc: 'Reject a client address listed in the DNS block list given as argument (domain[=d.d.d.d filter]; $maps_rbl_reject_code).',
});

export const dnsRestrictions: RestrictionDef[] = [
  rejectUnknownClientHostname,
  pending('reject_unknown_reverse_client_hostname', {
    mayPermit: false, reason: NEEDS_DNS,
    doc: 'Reject a client address that has no PTR name ($unknown_client_reject_code; 450 on a temporary failure).',
  }),
  rejectUnknownHeloHostname,
  rejectUnknownSenderDomain,
  pending('reject_unknown_recipient_domain', {
    mayPermit: false, reason: NEEDS_DNS,
    doc: 'Reject a recipient domain that has no MX, A or AAAA record, or a nullMX ($unknown_address_reject_code).',
  }),
  rejectRblClient,
  pending('reject_rhsbl_client', { args: 1, mayPermit: false, reason: NEEDS_DNS, doc: 'Reject a client host name listed in the given domain block list (skipped for "unknown").' }),
  pending('reject_rhsbl_reverse_client', { args: 1, mayPermit: false, reason: NEEDS_DNS, doc: 'Reject a client reverse name listed in the given domain block list (skipped for "unknown").' }),
  pending('reject_rhsbl_helo', { args: 1, mayPermit: false, reason: NEEDS_DNS, doc: 'Reject a HELO/EHLO domain listed in the given domain block list.' }),
  pending('reject_rhsbl_sender', { args: 1, mayPermit: false, reason: NEEDS_DNS, doc: 'Reject a sender domain listed in the given domain block list.' }),
  pending('reject_rhsbl_recipient', { args: 1, mayPermit: false, reason: NEEDS_DNS, doc: 'Reject a recipient domain listed in the given domain block list.' }),
  pending('permit_dnswl_client', { args: 1, mayPermit: true, reason: NEEDS_DNS, doc: 'Permit a client address listed in the given DNS allow list (ignored for unauthorised destinations at RCPT).' }),
  pending('permit_rhswl_client', { args: 1, mayPermit: true, reason: NEEDS_DNS, doc: 'Permit a client host name listed in the given domain allow list (ignored for unauthorised destinations at RCPT).' }),
  pending('permit_mx_backup', {
    mayPermit: true, reason: NEEDS_DNS,
    doc: 'Permit a recipient domain for which this host is a backup MX (primary MX hosts optionally within $permit_mx_backup_networks).',
  }),
  pending('reject_maps_rbl', {
    mayPermit: false, reason: NEEDS_DNS,
    doc: 'Deprecated (Postfix 2.1; removed in 3.9): reject_rbl_client for each domain in $maps_rbl_domains.',
  }),
  ...serverAccess(),
  pending('reject_unverified_sender', {
    mayPermit: false, reason: NEEDS_VERIFY,
    doc: 'Reject a sender address that address verification found undeliverable ($unverified_sender_reject_code).',
  }),
  pending('reject_unverified_recipient', {
    mayPermit: false, reason: NEEDS_VERIFY,
    doc: 'Reject a recipient address that address verification found undeliverable ($unverified_recipient_reject_code).',
  }),
  pending('check_policy_service', {
    args: 1, mayPermit: true, reason: NEEDS_POLICY,
    doc: 'Ask an external policy server (SMTPD_POLICY_README) and apply its access(5) action.',
    check: (args) => (args[0]!.includes(':') ? undefined
      : configError(`restriction check_policy_service must be followed by transport:server, not "${args[0]}"`)),
  }),
  alias('reject_unknown_client', rejectUnknownClientHostname, 'Name before Postfix 2.3'),
  alias('reject_unknown_hostname', rejectUnknownHeloHostname, 'Name before Postfix 2.3'),
  alias('reject_unknown_address', rejectUnknownSenderDomain, 'Internal Postfix name'),
  alias('reject_rbl', rejectRblClient, 'Old (LaMont) name'),
];
