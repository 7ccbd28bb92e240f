/**
 * @module engine/restrictions/server-access
 * check_{client,reverse_client_hostname,helo,sender,recipient}_{a,mx,ns}_access TYPE:TABLE
 * (postconf(5); smtpd_check.c check_server_access()): look up the DNS servers of a name in an
 * access(5) table, and act on the first entry found.
 *
 * Targets and reply subjects (generic_checks()): the client name (skipped when `unknown`;
 * replies name `name[addr]`, "Client host"), the reverse client name (skipped when `unknown`;
 * "Unverified Client host"), the HELO name, the domain of the sender (not the null sender) or
 * of the recipient; each replies with its own subject wherever it is listed.
 *
 * Servers:
 * - `_a_`: the name itself (Postfix 3.0 and later); only its addresses are looked up.
 * - `_mx_`: the MX hosts; a name with no MX (NXDOMAIN or no MX records) is its own MX, a
 *   nullMX gives DUNNO.
 * - `_ns_`: the NS hosts; a name with no NS records is replaced by its parent domain until one
 *   has some.
 * - An address literal `[1.2.3.4]` / `[IPv6:…]` is looked up as an address for `_a_` and `_mx_`,
 *   and skipped for `_ns_`.
 * Each server: a server that is an IP address is looked up as one; otherwise (not for `_a_`)
 * its name and parent domains, then each of its addresses (A/AAAA per $inet_protocols) with
 * the address search order (`1.2.3.4`, `1.2.3`, `1.2`, `1`). The first key found decides, even
 * when its value is DUNNO. At most 100 addresses are looked up in all (Postfix 3.7.9's
 * DNS record limit), with Postfix's warning.
 *
 * Failures: the MX or NS lookup failing (temporarily or not) logs
 * `Unable to look up MX host for example.test: Host not found, try again` and answers DUNNO;
 * a server whose addresses cannot be found is skipped with a warning. These checks can only
 * reject, so a DNS failure never causes a reject.
 *
 * An OK (or RELAY, or all digits) in the table is refused: three warnings and
 * `451 4.3.5 Server configuration error` (forbid_allowlist()); DUNNO makes exceptions.
 */
import { accessOutcome, lookupDomain, REPLY_CLASS } from '../access.js';
import { validHostaddr } from './hostname-syntax.js';
import { configError, dunno } from '../outcome.js';
import type { Outcome } from '../types.js';
import type { LookupTable } from '../../tables/index.js';
import { defineRestriction, type ReplySubject, type RestrictionDef, type RestrictionEnv } from './define.js';
import { asciiName, hostAddresses, lookupTypes } from './dns-status.js';
import { validMailhostAddr } from './hostname-syntax.js';
import { badTableArg } from './table-arg.js';

type ServerKind = 'a' | 'mx' | 'ns';

/** Postfix 3.7's cap on records per DNS lookup, which also bounds these checks. */
const ADDRESS_LIMIT = 100;

/** check_addr_access(): the address, then the address cut at each `.` or `:` from the right. */
function lookupAddress(table: LookupTable, address: string): { key: string; value: string } | undefined {
  const delim = address.includes(':') ? ':' : '.';
  for (let a = address, first = true; ; first = false) {
    // Pattern tables (regexp, pcre, cidr) see only the full key.
    if (first || !table.pattern) {
      const v = table.lookup(a);
      if (v !== undefined) return { key: a, value: v };
    }
    const i = a.lastIndexOf(delim);
    if (i <= 0) return undefined;
    a = a.slice(0, i);
  }
}

const warn = (env: RestrictionEnv, text: string) => env.run.events.push({ action: 'warning', text });

/** check_server_access(): see the module comment. */
async function checkServerAccess(env: RestrictionEnv, spec: string, name: string, kind: ServerKind, subject: ReplySubject): Promise<Outcome> {
  const table = env.facts.table(spec);
  const cfg = env.facts.config;
  const at = name.lastIndexOf('@');
  let domain = at >= 0 ? name.slice(at + 1) : name;
  const type = kind === 'a' ? 'A' : kind === 'mx' ? 'MX' : 'NS';
  const found = (hit: { key: string; value: string }, what: string) => {
    const o = accessOutcome(env, spec, hit, subject, what);
    const note = (x: Outcome) => ({ ...x, note: `${what}: ${x.note}` }) as Outcome;
    return o instanceof Promise ? o.then(note) : note(o);
  };

  // An address literal is its own MX server (and its own address); it has no NS equivalent.
  if (domain.startsWith('[')) {
    if (kind === 'ns') return dunno(`${domain}: an address literal has no DNS servers`);
    if (!domain.endsWith(']')) return dunno(`${domain}: not an address literal`);
    const inner = domain.slice(1, -1);
    if (!validMailhostAddr(inner)) return dunno(`${domain}: not a valid address literal`);
    const bare = inner.replace(/^ipv6:/i, '');
    const hit = lookupAddress(table, bare);
    return hit ? found(hit, `address ${bare}`) : dunno(`${domain}: address ${bare} not found in ${spec}`);
  }
  domain = asciiName(domain);

  let servers: string[];
  const dns = env.facts.dns();
  if (kind === 'a') {
    servers = [domain];
  } else {
    let r = await lookupTypes(dns, domain, [type], [], (t) => warn(env, t));
    if (r.status === 'nullmx') return dunno(`${domain}: nullMX, no mail servers to check`);
    // The warning names the domain asked last, or the whole input once no parent is left.
    let asked = domain;
    if (r.status === 'notfound') {
      if (kind === 'mx') {
        r = { ...r, status: 'ok', records: [{ type: 'MX', preference: 0, exchange: domain, ttl: 0 }] };
      } else {
        // No NS records: the nearest parent domain that has some.
        for (let d = domain; ;) {
          const dot = d.indexOf('.');
          if (dot < 0 || dot === d.length - 1) { asked = name; break; }
          d = d.slice(dot + 1);
          asked = d;
          r = await lookupTypes(dns, d, [type], [], (t) => warn(env, t));
          if (r.status !== 'notfound') break;
        }
      }
    }
    if (r.status !== 'ok') {
      warn(env, `Unable to look up ${type} host for ${asked}: ${r.error}`);
      return dunno(`${type} lookup failed (${r.detail}): not checked`);
    }
    servers = r.records.map((x) => (x.type === 'MX' ? x.exchange : x.type === 'NS' ? x.name : '')).filter((x) => x !== '')
      .map((x) => x.replace(/\.$/, '').toLowerCase());
  }

  let count = 0;
  for (const server of servers) {
    if (validHostaddr(server)) {
      const hit = lookupAddress(table, server);
      if (hit) return found(hit, `${type} server ${server}`);
      continue;
    }
    if (kind !== 'a') {
      const hit = lookupDomain(env, table, server);
      if (hit) return found(hit, `${type} server ${server}`);
    }
    const addrs = await hostAddresses(dns, cfg, server);
    if (!addrs.ok) {
      if (kind !== 'a') warn(env, `Unable to look up ${type} host ${server} for ${subject.replyClass} ${subject.replyName}: ${addrs.error}`);
      continue;
    }
    for (const address of addrs.addresses) {
      if (++count > ADDRESS_LIMIT) {
        warn(env, `check_server_access: ${type} server address count limit (${ADDRESS_LIMIT}) exceeded for ${subject.replyClass} ${subject.replyName} -- ignoring the remainder`);
        return dunno(`more than ${ADDRESS_LIMIT} server addresses: the rest is ignored`);
      }
      const hit = lookupAddress(table, address);
      if (hit) return found(hit, `${type} server ${server} address ${address}`);
    }
  }
  return dunno(`${type === 'A' ? 'addresses of' : `${type} servers of`} ${domain} (${servers.join(', ')}): not found in ${spec}`);
}

/** forbid_allowlist(): these checks may not grant trust. */
function forbidOk(env: RestrictionEnv, name: string, o: Outcome, target: string): Outcome {
  if (o.kind !== 'permit' || env.run.discard) return o;
  // Three warning lines as Postfix logs them; the evaluator logs the error's note as the third.
  warn(env, `restriction ${name} returns OK for ${target}`);
  warn(env, 'this is not allowed for security reasons');
  return configError('use DUNNO instead of OK if you want to make an exception');
}

/** What each family checks, and whose reply it gives. */
const TARGETS: Record<string, { what: string; target: (env: RestrictionEnv) => { name: string; subject: ReplySubject } | string }> = {
  client: {
    what: 'the client host name (not when it is "unknown")',
    target: (env) => {
      const c = env.tx.client;
      if (c.name.toLowerCase() === 'unknown') return 'client name unknown';
      return { name: c.name, subject: { replyName: `${c.name}[${c.address}]`, replyClass: REPLY_CLASS.client } };
    },
  },
  reverse_client_hostname: {
    what: 'the unverified reverse (PTR) client name (not when it is "unknown")',
    target: (env) => {
      const r = env.tx.client.reverseName;
      if (r.toLowerCase() === 'unknown') return 'reverse client name unknown';
      return { name: r, subject: { replyName: r, replyClass: REPLY_CLASS.reverseClient } };
    },
  },
  helo: {
    what: 'the HELO/EHLO name',
    target: (env) => (env.tx.helo === undefined ? 'no HELO/EHLO yet' : { name: env.tx.helo, subject: { replyName: env.tx.helo, replyClass: REPLY_CLASS.helo } }),
  },
  sender: {
    what: 'the sender domain (not the null sender)',
    target: (env) => (!env.tx.sender ? 'no sender yet, or the null sender' : { name: env.tx.sender, subject: { replyName: env.tx.sender, replyClass: REPLY_CLASS.sender } }),
  },
  recipient: {
    what: 'the recipient domain',
    target: (env) => (!env.tx.recipient ? 'no recipient yet' : { name: env.tx.recipient, subject: { replyName: env.tx.recipient, replyClass: REPLY_CLASS.recipient } }),
  },
};

const KINDS: Record<ServerKind, string> = {
  a: 'IP addresses',
  mx: 'MX hosts (the name itself when it has no MX) and their IP addresses',
  ns: 'DNS servers (of the nearest parent with NS records) and their IP addresses',
};

export const serverAccessRestrictions: RestrictionDef[] = Object.entries(TARGETS).flatMap(([family, t]) =>
  (Object.keys(KINDS) as ServerKind[]).map((kind) => {
    const name = `check_${family}_${kind}_access`;
    return defineRestriction({
      name,
      args: 1,
      mayPermit: false,
      usesDns: true,
      doc: `Look up the ${KINDS[kind]} of ${t.what} in an access(5) table; OK is not allowed (451 4.3.5).`,
      async evaluate(env, [spec]) {
        const bad = badTableArg(name, spec!);
        if (bad) return bad;
        const tg = t.target(env);
        if (typeof tg === 'string') return dunno(`${tg}: nothing to check`);
        return forbidOk(env, name, await checkServerAccess(env, spec!, tg.name, kind, tg.subject), tg.name);
      },
    });
  }));
