/**
 * @module engine/restrictions/dnsbl
 * DNS block and allow lists in smtpd (postconf(5) reject_rbl_client, reject_rhsbl_*,
 * permit_dnswl_client, permit_rhswl_client, reject_maps_rbl; smtpd_check.c find_dnsxl_addr(),
 * find_dnsxl_domain(), rbl_reject_reply(), permit_dnswl_addr()).
 *
 * - The argument is `domain` or `domain=filter` (ip_match syntax, dnsbl/filter). Only A records
 *   count; a filter must match one of them.
 * - A listing rejects with $rbl_reply_maps (key: the argument as written) or $default_rbl_reply,
 *   expanded with $rbl_code ($maps_rbl_reject_code), $rbl_class, $rbl_what, $rbl_domain and
 *   $rbl_reason (the TXT records joined by " / ", at most 500 characters). The expansion must start
 *   with `4NN ` or `5NN `; otherwise `450 4.7.1 Service unavailable` and a warning.
 * - A temporary lookup failure never rejects: a warning (`NAME: RBL lookup error: …`) and DUNNO
 *   for block lists; DEFER_IF_REJECT `450 4.7.1 <what>: Client host rejected: Service
 *   unavailable` for allow lists, as Postfix.
 * - Beyond Postfix (dnsbl/health): an answer that is an operator's refusal code or lies outside
 *   127/8 is never a listing; a list that is degraded or refusing is skipped (DUNNO, noted in the
 *   trace), and a list that failed once in a session is not asked again in that session. An allow
 *   list that is skipped because it is degraded defers as a failed lookup would; one that refuses
 *   is ignored (its answers mean nothing).
 * - Allow lists are ignored at RCPT TO for an unauthorised destination ("For safety,
 *   permit_dnswl_client is silently ignored when it would override reject_unauth_destination").
 */
import { domainToASCII } from 'node:url';
import { healthFor } from '../../dnsbl/health.js';
import { matchFilter, splitListArg, type ReplyFilter } from '../../dnsbl/filter.js';
import { listingText, lookupErrorText, queryList, reverseIp, type ListAnswer } from '../../dnsbl/query.js';
import { expandTemplate, parseExpansionFilter, TemplateError } from '../../dnsbl/template.js';
import type { ListKind } from '../../dnsbl/health.js';
import { syslogStamp } from '../../log/logger.js';
import { authorizedDestination } from '../address-class.js';
import { configError, dunno, fixDsn, permit, policyReply, reject, splitDsn } from '../outcome.js';
import type { Outcome } from '../types.js';
import { alias } from './alias.js';
import { defineRestriction, type RestrictionDef, type RestrictionEnv } from './define.js';
import { validHostname } from './hostname-syntax.js';

/** smtpd_dsn_fix.h reply classes used by the DNS list checks. */
const CLIENT = 'Client host';
const REV_CLIENT = 'Unverified Client host';
const HELO = 'Helo command';
const SENDER = 'Sender address';
const RECIPIENT = 'Recipient address';

interface Looked {
  readonly answer: ListAnswer;
  readonly domain: string;
  readonly filter?: ReplyFilter;
  /** The A records that match the filter (all of them without one). */
  readonly matched: readonly string[];
}

/** The list's domain (lower case, without a trailing dot) and reply filter, from a restriction argument. */
function parseListArg(arg: string): { domain: string; filter?: ReplyFilter } | { error: string } {
  let parsed: ReturnType<typeof splitListArg>;
  try { parsed = splitListArg(arg); } catch (e) { return { error: `RBL reply error: ${(e as Error).message}` }; }
  const domain = parsed.domain.replace(/\.$/, '').toLowerCase();
  if (!domain || !validHostname(domain)) return { error: `bad DNS list domain name "${parsed.domain}"` };
  return { domain, ...(parsed.filter ? { filter: parsed.filter } : {}) };
}

/** One list lookup from a restriction, with its health and session bookkeeping. */
async function look(env: RestrictionEnv, arg: string, key: string, kind: ListKind): Promise<Looked | Outcome> {
  const parsed = parseListArg(arg);
  if ('error' in parsed) return configError(parsed.error);
  const { domain } = parsed;
  const resolver = env.facts.dns();
  const health = healthFor(env.facts.config, resolver);
  const answer = await queryList(key, {
    resolver, health, domain, kind, session: env.tx.client,
    warn: (text) => env.run.events.push({ action: 'warning', text }),
  });
  const matched = answer.kind === 'listed' ? answer.addresses.filter((a) => !parsed.filter || matchFilter(parsed.filter, a)) : [];
  return { answer, domain, filter: parsed.filter, matched };
}

const isOutcome = (x: Looked | Outcome): x is Outcome => 'kind' in x;

/**
 * The name a list lookup will ask (for the evaluator's prefetch), or none when the list would be
 * skipped anyway: only a healthy list is asked ahead, and the health registry is not touched.
 */
function prefetchName(env: RestrictionEnv, arg: string | undefined, key: string | undefined): { name: string; type: 'A' }[] {
  if (!arg || !key) return [];
  const parsed = parseListArg(arg);
  if ('error' in parsed) return [];
  const { domain } = parsed;
  const h = healthFor(env.facts.config, env.facts.dns()).get(domain);
  if (h && h.state !== 'healthy') return [];
  return [{ name: `${key}.${domain}`, type: 'A' }];
}

/** The DUNNO of a block list that is not listing the client, with the reason in the trace. */
function notListed(env: RestrictionEnv, l: Looked): Outcome {
  const a = l.answer;
  switch (a.kind) {
    case 'not_listed': return dunno(`${a.name}: not listed`);
    case 'listed': return dunno(`${a.name}: ${a.addresses.join(' ')} does not match filter ${l.filter?.text ?? ''}`);
    case 'failed':
      env.run.events.push({ action: 'warning', text: lookupErrorText(a.name, a.result) });
      return dunno(`${a.name}: lookup failed (${a.result.kind}): not evidence of anything`);
    case 'refused': return dunno(`${a.name}: not a listing: ${a.why}`);
    case 'skipped': return dunno(`${a.name}: not asked: ${a.why}`);
  }
}

/** rbl_reject_reply(): the reply of a listing, from the list's template. */
async function listedReply(env: RestrictionEnv, arg: string, l: Looked, what: string, replyClass: string): Promise<Outcome> {
  const cfg = env.facts.config;
  const a = l.answer;
  if (a.kind !== 'listed') throw new Error('listedReply without a listing');
  const txt = await listingText(env.facts.dns(), a.name);
  let template: string | undefined;
  for (const t of env.facts.maps('rbl_reply_maps')) {
    template = t.lookup(arg);
    if (template !== undefined) break;
  }
  const allowed = parseExpansionFilter(cfg.raw('smtpd_expansion_filter') ?? '');
  const lookup = expansionLookup(env, { rbl_code: String(cfg.int('maps_rbl_reject_code')), rbl_domain: l.domain, rbl_reason: txt, rbl_txt: txt, rbl_what: what, rbl_class: replyClass });
  let why: string | undefined;
  if (template !== undefined) {
    try { why = expandTemplate(template, lookup, allowed); } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      env.run.events.push({ action: 'warning', text: `rbl_reject_reply: bad rbl reply template for domain ${arg}: ${template}` });
    }
  }
  if (why === undefined) {
    const def = cfg.raw('default_rbl_reply') ?? '';
    try { why = expandTemplate(def, lookup, allowed); } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      return configError(`rbl_reject_reply: bad default rbl reply template: ${def}`);
    }
  }
  const note = `${a.name}: listed (${l.matched.join(' ')})${txt ? `, TXT "${txt}"` : ''}`;
  if (!/^[45]\d\d /.test(why)) {
    env.run.events.push({ action: 'warning', text: `rbl response code configuration error: ${why}` });
    return reject(policyReply(450, '7.1', 'Service unavailable'), note);
  }
  const d = splitDsn('4.7.1', why.slice(4));
  return reject(policyReply(Number(why.slice(0, 3)), fixDsn(d.status, replyClass), d.text || 'Service unavailable'), note);
}

/** smtpd_expand_lookup() with the RBL names on top (rbl_expand_lookup()). */
function expansionLookup(env: RestrictionEnv, rbl: Record<string, string>): (name: string) => string | undefined {
  const tx = env.tx;
  const split = (addr: string | undefined, part: 'name' | 'domain') => {
    if (!addr) return '';
    const at = addr.lastIndexOf('@');
    if (at < 0) return part === 'name' ? addr : '';
    return part === 'name' ? addr.slice(0, at) : addr.slice(at + 1);
  };
  const generic: Record<string, () => string> = {
    client: () => `${tx.client.name}[${tx.client.address}]`,
    client_address: () => tx.client.address,
    client_name: () => tx.client.name,
    reverse_client_name: () => tx.client.reverseName,
    client_port: () => String(tx.client.port),
    helo_name: () => tx.helo ?? '',
    sender: () => tx.sender ?? '',
    sender_name: () => split(tx.sender, 'name'),
    sender_domain: () => split(tx.sender, 'domain'),
    recipient: () => tx.recipient ?? '',
    recipient_name: () => split(tx.recipient, 'name'),
    recipient_domain: () => split(tx.recipient, 'domain'),
    server_name: () => env.facts.config.get('myhostname'),
    localtime: () => syslogStamp(),
    stress: () => '',
  };
  return (name) => rbl[name] ?? generic[name]?.();
}

/**
 * find_dnsxl_domain(): the domain of `what` (after the last "@" for addresses) in ASCII; none for
 * address literals, invalid names and names whose last label is all digits (some lists refuse "IP
 * queries").
 */
function rhsDomain(what: string): string | undefined {
  const at = what.lastIndexOf('@');
  let d = at >= 0 ? what.slice(at + 1) : what;
  if (d.startsWith('[')) return undefined;
  d = d.replace(/\.$/, '');
  if (!d) return undefined;
  if (/[^\x00-\x7f]/.test(d)) d = domainToASCII(d);
  if (!d || !validHostname(d)) return undefined;
  const last = d.slice(d.lastIndexOf('.') + 1);
  if (/^\d+$/.test(last)) return undefined;
  return d.toLowerCase();
}

/** reject_rbl_addr(). */
async function rejectAddr(env: RestrictionEnv, arg: string, address: string, replyClass: string): Promise<Outcome> {
  const key = reverseIp(address);
  if (!key) return dunno(`client address ${address} cannot be looked up in a DNS list`);
  const l = await look(env, arg, key, 'ip');
  if (isOutcome(l)) return l;
  if (!l.matched.length) return notListed(env, l);
  return listedReply(env, arg, l, address, replyClass);
}

/** reject_rbl_domain(). */
async function rejectDomain(env: RestrictionEnv, arg: string, what: string, replyClass: string): Promise<Outcome> {
  const d = rhsDomain(what);
  if (!d) return dunno(`${what}: no domain to look up in a DNS list`);
  const l = await look(env, arg, d, 'domain');
  if (isOutcome(l)) return l;
  if (!l.matched.length) return notListed(env, l);
  return listedReply(env, arg, l, what, replyClass);
}

/** permit_dnswl_addr() / permit_dnswl_domain(). */
async function permitListed(env: RestrictionEnv, arg: string, key: string | undefined, what: string, kind: ListKind): Promise<Outcome> {
  // Safety: an allow list never overrides reject_unauth_destination.
  const rcpt = env.tx.recipient;
  if (env.stage === 'rcpt' && rcpt) {
    const v = authorizedDestination(env.facts.resolver().resolve(rcpt), env.facts.config.bool('allow_untrusted_routing'));
    if (!v.ok) return dunno(`${rcpt} is not an authorised destination: allow list ignored`);
  }
  if (!key) return dunno(`${what}: nothing to look up in a DNS list`);
  const l = await look(env, arg, key, kind);
  if (isOutcome(l)) return l;
  const a = l.answer;
  if (l.matched.length) return permit(`${a.name}: listed (${l.matched.join(' ')})`);
  if (a.kind === 'failed' || (a.kind === 'skipped' && !/ is refusing /.test(a.why))) {
    if (a.kind === 'failed') env.run.events.push({ action: 'warning', text: lookupErrorText(a.name, a.result) });
    return {
      kind: 'defer_if_reject',
      reply: policyReply(450, '7.1', `<${what}>: ${CLIENT} rejected: Service unavailable`),
      note: `${a.name}: ${a.kind === 'failed' ? `lookup failed (${a.result.kind})` : a.why}: a later 5xx reject becomes 450`,
    };
  }
  return notListed(env, l);
}

const rejectRblClient = defineRestriction({
  name: 'reject_rbl_client', args: 1, mayPermit: false,
  prefetch: (env, [arg]) => prefetchName(env, arg, reverseIp(env.tx.client.address)),
  doc: 'Reject a client address listed in the DNS block list given as argument (domain[=d.d.d.d filter]; $rbl_reply_maps or $default_rbl_reply with $maps_rbl_reject_code, 554 5.7.1).',
  evaluate: (env, [arg]) => rejectAddr(env, arg!, env.tx.client.address, CLIENT),
});

export const dnsblRestrictions: RestrictionDef[] = [
  rejectRblClient,
  alias('reject_rbl', rejectRblClient, 'Old (LaMont) name'),
  defineRestriction({
    name: 'reject_rhsbl_client', args: 1, mayPermit: false,
    prefetch: (env, [arg]) => (env.tx.client.name.toLowerCase() === 'unknown' ? [] : prefetchName(env, arg, rhsDomain(env.tx.client.name))),
    doc: 'Reject a client host name listed in the given domain block list (skipped for "unknown").',
    evaluate(env, [arg]) {
      const n = env.tx.client.name;
      return n.toLowerCase() === 'unknown' ? dunno('client name is unknown') : rejectDomain(env, arg!, n, CLIENT);
    },
  }),
  defineRestriction({
    name: 'reject_rhsbl_reverse_client', args: 1, mayPermit: false,
    prefetch: (env, [arg]) => (env.tx.client.reverseName.toLowerCase() === 'unknown' ? [] : prefetchName(env, arg, rhsDomain(env.tx.client.reverseName))),
    doc: 'Reject a client reverse (PTR) name listed in the given domain block list (skipped for "unknown").',
    evaluate(env, [arg]) {
      const n = env.tx.client.reverseName;
      return n.toLowerCase() === 'unknown' ? dunno('client reverse name is unknown') : rejectDomain(env, arg!, n, REV_CLIENT);
    },
  }),
  defineRestriction({
    name: 'reject_rhsbl_helo', args: 1, mayPermit: false,
    prefetch: (env, [arg]) => (env.tx.helo ? prefetchName(env, arg, rhsDomain(env.tx.helo)) : []),
    doc: 'Reject a HELO/EHLO domain listed in the given domain block list.',
    evaluate: (env, [arg]) => (env.tx.helo ? rejectDomain(env, arg!, env.tx.helo, HELO) : dunno('no HELO yet')),
  }),
  defineRestriction({
    name: 'reject_rhsbl_sender', args: 1, mayPermit: false,
    prefetch: (env, [arg]) => (env.tx.sender ? prefetchName(env, arg, rhsDomain(env.tx.sender)) : []),
    doc: 'Reject a sender domain listed in the given domain block list (not the null sender).',
    evaluate: (env, [arg]) => (env.tx.sender ? rejectDomain(env, arg!, env.tx.sender, SENDER) : dunno('no sender yet, or the null sender')),
  }),
  defineRestriction({
    name: 'reject_rhsbl_recipient', args: 1, mayPermit: false,
    prefetch: (env, [arg]) => (env.tx.recipient ? prefetchName(env, arg, rhsDomain(env.tx.recipient)) : []),
    doc: 'Reject a recipient domain listed in the given domain block list.',
    evaluate: (env, [arg]) => (env.tx.recipient ? rejectDomain(env, arg!, env.tx.recipient, RECIPIENT) : dunno('no recipient yet')),
  }),
  defineRestriction({
    name: 'permit_dnswl_client', args: 1, mayPermit: true,
    prefetch: (env, [arg]) => prefetchName(env, arg, reverseIp(env.tx.client.address)),
    doc: 'Permit a client address listed in the given DNS allow list (ignored at RCPT TO for unauthorised destinations; a failed lookup: DEFER_IF_REJECT 450 4.7.1).',
    evaluate: (env, [arg]) => permitListed(env, arg!, reverseIp(env.tx.client.address), env.tx.client.address, 'ip'),
  }),
  defineRestriction({
    name: 'permit_rhswl_client', args: 1, mayPermit: true,
    prefetch: (env, [arg]) => (env.tx.client.name.toLowerCase() === 'unknown' ? [] : prefetchName(env, arg, rhsDomain(env.tx.client.name))),
    doc: 'Permit a client host name listed in the given domain allow list (skipped for "unknown"; ignored at RCPT TO for unauthorised destinations).',
    evaluate(env, [arg]) {
      const n = env.tx.client.name;
      if (n.toLowerCase() === 'unknown') return dunno('client name is unknown');
      return permitListed(env, arg!, rhsDomain(n), n, 'domain');
    },
  }),
  defineRestriction({
    name: 'reject_maps_rbl', mayPermit: false,
    doc: 'Deprecated (Postfix 2.1; removed in 3.9): reject_rbl_client for each domain in $maps_rbl_domains.',
    async evaluate(env) {
      if (!warnedMapsRbl) {
        warnedMapsRbl = true;
        env.run.events.push({ action: 'warning', text: 'support for restriction "reject_maps_rbl" will be removed from Postfix; use "reject_rbl_client domain-name" instead' });
      }
      for (const d of env.facts.config.list('maps_rbl_domains')) {
        const o = await rejectAddr(env, d, env.tx.client.address, CLIENT);
        if (o.kind !== 'dunno') return o;
      }
      return dunno('not listed in any of $maps_rbl_domains');
    },
  }),
];

let warnedMapsRbl = false;
