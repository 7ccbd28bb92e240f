/**
 * @module engine/access
 * access(5) tables as the SMTP server consults them (smtpd_check.c check_access(),
 * check_domain_access(), check_addr_access(), check_namadr_access(), check_mail_access()):
 * the order in which keys are looked up, and what a found value means
 * (check_table_result()).
 *
 * Search orders. The first key of each search is the "full" key; the keys after it are
 * partial, and pattern tables (regexp, pcre, cidr) are never asked for those:
 * - host names: the name, then each parent domain (`a.b.c`, `b.c`, `c`; or `.b.c`, `.c` when
 *   smtpd_access_maps is not in $parent_domain_matches_subdomains); none for a numeric address;
 * - client: its host name (or `unknown`) as above, then its address and the address cut at
 *   each `.` (IPv4) or `:` (IPv6) from the right;
 * - mail addresses: the resolved address, user@domain without the extension, the domain and
 *   its parents, `user+ext@`, `user@` ($recipient_delimiter empty: no extension keys);
 *   the null sender is the single key $smtpd_null_access_lookup_key.
 * A key that is found ends the search of that table whatever its value, DUNNO included.
 */
import { parseList } from '../config/values.js';
import type { LookupTable } from '../tables/index.js';
import { configError, dunno, fixDsn, permit, policyReply, splitDsn } from './outcome.js';
import { parentStyle } from './patterns.js';
import { validHostaddr } from './restrictions/hostname-syntax.js';
import type { ReplySubject, RestrictionEnv } from './restrictions/define.js';
import type { Outcome } from './types.js';

/** Reply classes of the access checks (smtpd.h SMTPD_NAME_*). */
export const REPLY_CLASS = {
  client: 'Client host',
  reverseClient: 'Unverified Client host',
  helo: 'Helo command',
  sender: 'Sender address',
  recipient: 'Recipient address',
  etrn: 'Etrn command',
  sasl: 'SASL login name',
  ccert: 'Client certificate',
} as const;

/** A lookup that found a value, or undefined when no key of the search is in the table. */
type Hit = { readonly key: string; readonly value: string };

function get(table: LookupTable, key: string, full: boolean): string | undefined {
  if (!full && table.pattern) return undefined;
  return table.lookup(key);
}

/** Host name keys: the name, then its parent domains (check_domain_access()). */
function domainKeys(domain: string, parentMatchesSubdomains: boolean): string[] {
  const keys: string[] = [];
  for (let name = domain; name !== '';) {
    keys.push(name);
    if (keys.length === 1 && validHostaddr(domain)) break;
    const dot = name.indexOf('.', 1);
    if (dot < 0) break;
    name = parentMatchesSubdomains ? name.slice(dot + 1) : name.slice(dot);
  }
  return keys;
}

/** Address keys: the address, then cut at the last `.` or `:` repeatedly (check_addr_access()). */
function addressKeys(address: string): string[] {
  const delim = address.includes(':') ? ':' : '.';
  const keys = [address];
  for (let a = address; ;) {
    const i = a.lastIndexOf(delim);
    if (i <= 0) break;
    a = a.slice(0, i);
    keys.push(a);
  }
  return keys;
}

function searchKeys(table: LookupTable, keys: readonly string[], firstIsFull: boolean): Hit | undefined {
  for (let i = 0; i < keys.length; i++) {
    const value = get(table, keys[i]!, firstIsFull && i === 0);
    if (value !== undefined) return { key: keys[i]!, value };
  }
  return undefined;
}

const parentMatchCache = new WeakMap<object, boolean>();
function parentMatches(env: RestrictionEnv): boolean {
  const cfg = env.facts.config;
  let v = parentMatchCache.get(cfg);
  if (v === undefined) { v = parentStyle(cfg.list('parent_domain_matches_subdomains'), 'smtpd_access_maps'); parentMatchCache.set(cfg, v); }
  return v;
}

/** Looks a host name up with its parents; returns what was found. */
export function lookupDomain(env: RestrictionEnv, table: LookupTable, domain: string, full = true): Hit | undefined {
  return searchKeys(table, domainKeys(domain, parentMatches(env)), full);
}

/** check_namadr_access(): the host name sequence, then the address sequence. */
export function lookupClient(env: RestrictionEnv, table: LookupTable, name: string, address: string): Hit | undefined {
  return lookupDomain(env, table, name) ?? searchKeys(table, addressKeys(address), true);
}

/**
 * check_mail_access(): the keys of a mail address in Postfix's order; `routed` reports
 * sender-specified routing (an OK for such a recipient is not trusted).
 */
export function mailKeys(env: RestrictionEnv, address: string): { keys: string[]; domainFrom: number; domainTo: number; routed: boolean } {
  const r = env.facts.resolver().resolve(address);
  const full = r.recipient;
  const at = full.lastIndexOf('@');
  const local = at >= 0 ? full.slice(0, at) : full;
  const domain = at >= 0 ? full.slice(at + 1) : '';
  const delims = env.facts.config.get('recipient_delimiter');
  let bareLocal: string | undefined;
  if (delims) {
    const i = [...local].findIndex((c) => delims.includes(c));
    if (i > 0) bareLocal = local.slice(0, i);
  }
  const keys = [full];
  if (bareLocal !== undefined) keys.push(`${bareLocal}@${domain}`);
  const domainFrom = keys.length;
  if (domain) keys.push(...domainKeys(domain, parentMatches(env)));
  const domainTo = keys.length;
  keys.push(`${local}@`);
  if (bareLocal !== undefined) keys.push(`${bareLocal}@`);
  return { keys, domainFrom, domainTo, routed: r.routed };
}

export function lookupMail(env: RestrictionEnv, table: LookupTable, address: string): (Hit & { routed?: boolean }) | undefined {
  const { keys, routed } = mailKeys(env, address);
  const hit = searchKeys(table, keys, true);
  return hit ? { ...hit, routed } : undefined;
}

/**
 * What a found value means (check_table_result()). `datum` is the key as the log shows it,
 * `subject` whose reply it is, `table` the table as written in main.cf.
 */
export function tableResult(env: RestrictionEnv, table: string, value: string, subject: ReplySubject): Outcome | Promise<Outcome> {
  const cfg = env.facts.config;
  const ws = value.search(/[ \t]/);
  const cmd = ws < 0 ? value : value.slice(0, ws);
  const text = ws < 0 ? '' : value.slice(ws).replace(/^[ \t]+/, '');
  const word = cmd.toUpperCase();
  const who = `<${subject.replyName}>: ${subject.replyClass}`;
  const from = `${table} value "${value}"`;
  const st = env.run;
  const actions = st.actions;
  const event = (action: Parameters<typeof st.events.push>[0]['action'], t: string) => st.events.push({ action, text: t });
  const rejectWith = (code: number, defDsn: string, defText: string): Outcome => {
    const d = splitDsn(defDsn, text);
    return { kind: 'reject', reply: policyReply(code, fixDsn(d.status, subject.replyClass), `${who} rejected: ${d.text || defText}`), note: from };
  };
  // FILTER, HOLD, DISCARD, REDIRECT, BCC and PREPEND belong to a mail transaction
  // (can_delegate_action(), not_in_client_helo()).
  const delegable = (action: string): boolean => {
    if (env.stage === 'etrn') { event('warning', `access table ${table}: action ${action} is unavailable in smtpd_etrn_restrictions`); return false; }
    if (env.tx.sender === undefined) {
      event('warning', `access table ${table}: with smtpd_delay_reject=no, action ${action} is always skipped in ${REPLY_CLASS.client} or ${REPLY_CLASS.helo} restrictions`);
      return false;
    }
    return true;
  };

  switch (word) {
    case 'DUNNO': return dunno(`${from}: stop searching this table`);
    case 'REJECT': return rejectWith(cfg.int('access_map_reject_code'), '5.7.1', 'Access denied');
    case 'DEFER': return rejectWith(cfg.int('access_map_defer_code'), '4.7.1', 'Access denied');
    case 'WARN': event('warn', text); return dunno(`${from}: logged`);
    case 'INFO': event('info', text); return dunno(`${from}: logged`);
    case 'FILTER':
      if (!delegable('FILTER')) return dunno(`${from}: skipped`);
      if (!text || !text.includes(':')) { event('warning', `access table ${table} entry "${value}" requires transport:destination`); return dunno(`${from}: no transport:destination`); }
      event('filter', `${who} triggers FILTER ${text}`);
      actions.filter = text;
      return dunno(`${from}: content filter ${text}`);
    case 'HOLD':
      if (!delegable('HOLD') || actions.hold) return dunno(`${from}: skipped`);
      event('hold', `${who} ${text || 'triggers HOLD action'}`);
      actions.hold = true;
      return dunno(`${from}: message goes to the hold queue`);
    case 'DISCARD':
      if (!delegable('DISCARD')) return dunno(`${from}: skipped`);
      event('discard', `${who} ${text || 'triggers DISCARD action'}`);
      actions.discard = true;
      return { kind: 'discard', note: `${from}: the message is accepted and dropped` };
    case 'REDIRECT':
    case 'BCC': {
      if (!delegable(word)) return dunno(`${from}: skipped`);
      if (!text.includes('@')) { event('warning', `access table ${table} entry "${value}" requires user@domain target`); return dunno(`${from}: no user@domain`); }
      event(word === 'BCC' ? 'bcc' : 'redirect', `${who} triggers ${word} ${text}`);
      if (word === 'BCC') actions.bcc = text; else actions.redirect = text;
      return dunno(`${from}: ${word.toLowerCase()} to ${text}`);
    }
    case 'DEFER_IF_PERMIT':
    case 'DEFER_IF_REJECT': {
      const d = splitDsn('4.7.1', text);
      const reply = policyReply(cfg.int('access_map_defer_code'), fixDsn(d.status, subject.replyClass), `${who} rejected: ${d.text || 'Service unavailable'}`);
      return { kind: word === 'DEFER_IF_PERMIT' ? 'defer_if_permit' : 'defer_if_reject', reply, note: from };
    }
    case 'PREPEND':
      if (!delegable('PREPEND')) return dunno(`${from}: skipped`);
      if (env.stage === 'eod') { event('warning', `access table ${table}: action PREPEND must be used before smtpd_end_of_data_restrictions`); return dunno(`${from}: too late`); }
      if (!/^[!-9;-~]+:/.test(text)) { event('warning', `access table ${table} entry "${value}" requires header: text`); return dunno(`${from}: not a header`); }
      actions.prepend.push(text);
      return dunno(`${from}: header prepended`);
  }
  // All digits: OK (some out-of-band authentication stores a time stamp).
  if (/^\d+$/.test(value)) return permit(`${from}: all digits means OK`);
  // 4NN text / 5NN text: that reply; 421 and 521 also end the session (smtpd_chat).
  if (cmd.length === 3 && text && /^[45]\d\d$/.test(cmd)) return rejectWith(Number(cmd), `${cmd[0]}.7.1`, 'Access denied');
  if (word === 'OK' || word === 'RELAY') return permit(from);
  if (value.includes(':')) {
    event('warning', `access table ${table} has entry with lookup table: ${value}`);
    return configError(`access table ${table} has entry with lookup table: ${value}; define a restriction class and specify its name instead`);
  }
  const tokens = parseList(value);
  if (!tokens.length) {
    event('warning', `access table ${table} entry has empty value`);
    return permit(`${from}: an empty value means OK`);
  }
  return env.nested(tokens, subject, from);
}

/** The outcome of a search: what the found value means, or DUNNO when nothing was found. */
export function accessOutcome(env: RestrictionEnv, spec: string, hit: Hit | undefined, subject: ReplySubject, searched: string): Outcome | Promise<Outcome> {
  if (!hit) return dunno(`${searched}: not found in ${spec}`);
  const explain = (o: Outcome): Outcome => ({ ...o, note: `${spec} key ${hit.key} = ${hit.value}${o.note ? ` (${o.note.replace(`${spec} value "${hit.value}"`, '').replace(/^: /, '') || o.kind})` : ''}` }) as Outcome;
  // Synchronous unless the value is a restriction list: most lookups cost no turn of the event loop.
  const o = tableResult(env, spec, hit.value, subject);
  return o instanceof Promise ? o.then(explain) : explain(o);
}
