/**
 * @module tables/cidr
 * Postfix `cidr:` lookup tables (cidr_table(5)): `pattern result`, `!pattern result` and nested
 * `if pattern` / `if !pattern` … `endif` blocks, searched in file order until a pattern
 * matches. Patterns are `address` or `network/prefix`, IPv6 with or without `[]`; host bits
 * of a network must be zero. Both the file form `cidr:/path` and the inline form
 * `cidr:{ { rule }, { rule } }` (Postfix 3.7) are read. The table reloads when its file changes
 * (tables/reload).
 *
 * Keys are compared in binary, as cidr_table(5) says, and only within one address family. A
 * key Postfix would not parse (brackets, a zone `%eth0`, octal `010.1.2.3`, a name) matches
 * nothing. One deliberate extension: an IPv4-mapped IPv6 key (`::ffff:192.0.2.1`) is also
 * compared, as IPv4, with IPv4 patterns. Postfix's smtpd strips that prefix before any lookup
 * (so does smtp/listener); the table does it too for callers that pass the raw form.
 * A malformed line is a ConfigError (Postfix warns and skips the rule).
 */
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../config/types.js';
import { TextTable } from './reload.js';
import { inlineBody, inlineRules, logicalLines } from './source.js';

export type Network = { readonly addr: ipaddr.IPv4 | ipaddr.IPv6; readonly bits: number };

/**
 * Parses `a.b.c.d`, `a.b.c.d/n`, `ipv6`, `[ipv6]`, `[ipv6]/n` or `ipv6/n`. `bracketsRequired`
 * is set for main.cf lists, where an unbracketed IPv6 address would read as `type:table`
 * (postconf(5) mynetworks, Note 2). Throws ConfigError with Postfix's advice for host bits.
 */
export function parseNetwork(pattern: string, where: string, bracketsRequired = false): Network | undefined {
  const m = /^(\[([^\]]*)\]|([^/[\]]+))(?:\/(\d{1,3}))?$/.exec(pattern);
  if (!m) return undefined;
  const text = m[2] ?? m[3]!;
  const bracketed = m[2] !== undefined;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    addr = ipaddr.IPv4.parse(text);
  } else if (text.includes(':') && /^[0-9A-Fa-f:.]+$/.test(text) && ipaddr.IPv6.isValid(text)) {
    if (!bracketed && bracketsRequired) return undefined;
    addr = ipaddr.IPv6.parse(text);
  } else {
    return undefined;
  }
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  const bits = m[4] === undefined ? max : Number(m[4]);
  if (bits > max) throw new ConfigError(`${where}: bad net/mask pattern: "${pattern}"`);
  const network = addr.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${text}/${bits}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${text}/${bits}`);
  if (network.toNormalizedString() !== addr.toNormalizedString()) {
    const shown = addr.kind() === 'ipv6' && bracketsRequired ? `[${network.toString()}]/${bits}` : `${network.toString()}/${bits}`;
    throw new ConfigError(`${where}: non-null host address bits in "${pattern}", perhaps you should use "${shown}" instead`);
  }
  return { addr, bits };
}

/**
 * A client address as the matchers want it: brackets and an IPv6 zone removed, IPv4-mapped
 * IPv6 (`::ffff:a.b.c.d`) turned into IPv4 so it matches IPv4 networks. Undefined if it is not
 * an address (then nothing matches, as in Postfix's match_hostaddr()).
 */
const clientMemo = new Map<string, ipaddr.IPv4 | ipaddr.IPv6 | undefined>();

export function parseClientAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (clientMemo.has(address)) return clientMemo.get(address);
  const a = parseClientAddressUncached(address);
  if (clientMemo.size >= 1000) clientMemo.delete(clientMemo.keys().next().value!);
  clientMemo.set(address, a);
  return a;
}

function parseClientAddressUncached(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!/^[0-9A-Fa-f:.]+$/.test(bare) || !ipaddr.isValid(bare)) return undefined;
  if (!bare.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return undefined;
  return ipaddr.process(bare);
}

/** Whether the address lies in the network; an IPv4 address also matches IPv4-mapped IPv6 networks. */
export function inNetwork(addr: ipaddr.IPv4 | ipaddr.IPv6, net: Network): boolean {
  if (addr.kind() === net.addr.kind()) return addr.match(net.addr, net.bits);
  if (addr.kind() === 'ipv4' && net.addr.kind() === 'ipv6') return (addr as ipaddr.IPv4).toIPv4MappedAddress().match(net.addr, net.bits);
  return false;
}

/** A lookup key as dict_cidr reads it (inet_pton, no brackets), plus its IPv4 form when it is IPv4-mapped. */
interface CidrKey {
  readonly addr: ipaddr.IPv4 | ipaddr.IPv6;
  readonly v4?: ipaddr.IPv4;
}

/** Parsed keys of recent lookups: the same client address is looked up by several restrictions. */
const keyMemo = new Map<string, CidrKey | undefined>();

function parseKey(key: string): CidrKey | undefined {
  if (keyMemo.has(key)) return keyMemo.get(key);
  const k = parseKeyUncached(key);
  if (keyMemo.size >= 1000) keyMemo.delete(keyMemo.keys().next().value!);
  keyMemo.set(key, k);
  return k;
}

function parseKeyUncached(key: string): CidrKey | undefined {
  // Host names reach cidr tables too (the first key of a client search): turn them away before
  // ipaddr.js, which validates by throwing and is slow at it.
  if (!/^[0-9A-Fa-f:.]+$/.test(key)) return undefined;
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(key) && ipaddr.IPv4.isValidFourPartDecimal(key)) return { addr: ipaddr.IPv4.parse(key) };
  if (!key.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(key) || !ipaddr.IPv6.isValid(key)) return undefined;
  const addr = ipaddr.IPv6.parse(key);
  return { addr, v4: addr.isIPv4MappedAddress() ? addr.toIPv4Address() : undefined };
}

/**
 * Whether the key lies in the network; undefined when they are of different address families:
 * then the rule is skipped whether or not it is negated (dict_cidr compares families first;
 * verified: `!172.16.0.0/12` does not match an IPv6 key).
 */
function keyMatches(key: CidrKey, net: Network): boolean | undefined {
  if (key.addr.kind() === net.addr.kind()) return key.addr.match(net.addr, net.bits);
  if (key.v4 !== undefined && net.addr.kind() === 'ipv4') return key.v4.match(net.addr, net.bits);
  return undefined;
}

type Rule =
  | { kind: 'rule'; net: Network; negated: boolean; result: string; line: number }
  | { kind: 'if'; net: Network; negated: boolean; body: Rule[]; line: number };

export class CidrTable extends TextTable<readonly Rule[]> {
  readonly pattern = true;

  private constructor(spec: string, file: string, text?: string) {
    super(spec, { file, text }, parseCidrRules);
  }

  /** Opens `cidr:/path` or `cidr:{ {rule}, … }` (not shared: openTable() caches); throws ConfigError on a syntax error. */
  static open(spec: string): CidrTable {
    const arg = spec.slice(spec.indexOf(':') + 1);
    const body = inlineBody(arg);
    if (body === undefined) return new CidrTable(spec, arg);
    return new CidrTable(spec, spec, inlineRules(body, spec).map((r) => r.text).join('\n'));
  }

  protected find(rules: readonly Rule[], key: string): string | undefined {
    const k = parseKey(key);
    return k ? search(rules, k) : undefined;
  }
}

function search(rules: readonly Rule[], key: CidrKey): string | undefined {
  for (const r of rules) {
    const hit = keyMatches(key, r.net);
    if (hit === undefined || hit === r.negated) continue;
    if (r.kind === 'rule') return r.result;
    const inner = search(r.body, key);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

/** Parses one pattern of a rule; the messages are dict_cidr's. */
function network(pattern: string, file: string, line: number): Network {
  try {
    const net = parseNetwork(pattern, 'cidr');
    if (net) return net;
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/^cidr: /, ''), file, line);
  }
  const bad = /^[^/]*\/(\d+)$/.exec(pattern) ? 'bad network value' : 'bad address pattern';
  throw new ConfigError(`${bad} in "${pattern}"`, file, line);
}

function parseCidrRules(text: string, file: string): Rule[] {
  const root: Rule[] = [];
  const stack: { body: Rule[]; line: number }[] = [{ body: root, line: 0 }];
  for (const { text: raw, line } of logicalLines(text, file)) {
    const t = raw.trim();
    const top = stack[stack.length - 1]!;
    if (/^endif$/i.test(t)) {
      if (stack.length === 1) throw new ConfigError('ignoring ENDIF without matching IF', file, line);
      stack.pop();
      continue;
    }
    if (/^endif\s/i.test(t)) throw new ConfigError(`extra text after ENDIF: "${t.slice(0, 60)}"`, file, line);
    const ifm = /^if(\s+|(?=!))(!?)\s*(\S+)(\s+\S.*)?$/i.exec(t);
    if (ifm) {
      // cidr_table(5): "do not prepend whitespace to text between if..endif" - an indented
      // rule is joined to the if line; say so instead of dropping it.
      if (ifm[4]) throw new ConfigError(`extra text after IF: "${ifm[4].trim().slice(0, 60)}" (do not indent the lines between IF and ENDIF)`, file, line);
      const rule: Rule = { kind: 'if', net: network(ifm[3]!, file, line), negated: ifm[2] === '!', body: [], line };
      top.body.push(rule);
      stack.push({ body: rule.body, line });
      continue;
    }
    const m = /^(!?)\s*(\S+)\s+(\S.*)$/.exec(t);
    if (!m) throw new ConfigError(`expected "pattern result", found "${t.slice(0, 60)}"`, file, line);
    top.body.push({ kind: 'rule', net: network(m[2]!, file, line), negated: m[1] === '!', result: m[3]!.trim(), line });
  }
  if (stack.length > 1) throw new ConfigError('IF has no matching ENDIF', file, stack[stack.length - 1]!.line);
  return root;
}
