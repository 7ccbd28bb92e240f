/**
 * @module tables
 * Postfix lookup tables read from the administrator's source files (postmap(1) input format):
 * `hash:`, `btree:` and `texthash:` read the text file itself (never the compiled .db), plus
 * `inline:{ key=value, … }` and `static:value`. Keys of indexed tables are case-insensitive.
 * XXX: cidr:, regexp:, pcre: and reloading on change come with the restriction engine.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../config/types.js';

export interface LookupTable {
  /** The table as written in main.cf, e.g. `hash:/etc/postfix/transport`. */
  readonly spec: string;
  /**
   * True for regexp:, pcre: and cidr: tables: they are given only the full key of a search
   * (the whole address, the whole hostname), never the partial keys an access(5) search tries
   * next (parent domains, user@, truncated addresses). Postfix: dictionaries without DICT_FLAG_FIXED.
   */
  readonly pattern?: boolean;
  /** The value for exactly this key, or undefined when there is none. */
  lookup(key: string): string | undefined;
}

class MapTable implements LookupTable {
  constructor(readonly spec: string, private readonly entries: ReadonlyMap<string, string>) {}
  lookup(key: string): string | undefined { return this.entries.get(key.toLowerCase()); }
}

/** Source format of postmap(1): `key whitespace value`, comments, continuation lines. */
export function parseTableSource(text: string, file: string): Map<string, string> {
  const m = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  let cur: { key: string; value: string } | undefined;
  const flush = () => { if (cur) { m.set(cur.key.toLowerCase(), cur.value.trim()); cur = undefined; } };
  lines.forEach((raw, i) => {
    if (/^\s*#/.test(raw) || /^\s*$/.test(raw)) return;
    if (/^\s/.test(raw)) {
      if (!cur) throw new ConfigError('continuation line without a preceding entry', file, i + 1);
      cur.value += ' ' + raw.trim();
      return;
    }
    flush();
    const mm = /^(\S+)\s*(.*)$/.exec(raw.trimEnd());
    const key = mm?.[1] ?? '';
    const value = mm?.[2] ?? '';
    if (value === '') throw new ConfigError(`expected "key whitespace value", found "${raw.slice(0, 60)}"`, file, i + 1);
    cur = { key, value };
  });
  flush();
  return m;
}

export function openTable(spec: string): LookupTable {
  const i = spec.indexOf(':');
  if (i < 0) throw new ConfigError(`table "${spec}" has no "type:" prefix`);
  const type = spec.slice(0, i).toLowerCase();
  const arg = spec.slice(i + 1);
  switch (type) {
    case 'hash': case 'btree': case 'texthash': case 'lmdb': {
      let text: string;
      try {
        statSync(arg);
        text = readFileSync(arg, 'utf8');
      } catch {
        try { statSync(`${arg}.db`); } catch { throw new ConfigError(`cannot read table ${spec}: ${arg}: no such file`); }
        throw new ConfigError(`cannot read table ${spec}: only ${arg}.db exists; mxguard reads the source text file that postmap compiles — put it at ${arg}`);
      }
      return new MapTable(spec, parseTableSource(text, arg));
    }
    case 'inline': {
      const body = /^\{([\s\S]*)\}$/.exec(arg.trim());
      if (!body) throw new ConfigError(`inline table must be written inline:{ key=value, ... }: "${spec}"`);
      const m = new Map<string, string>();
      for (const item of body[1]!.split(/,/).map((s) => s.trim()).filter(Boolean)) {
        const kv = /^\{?\s*([^=\s]+)\s*=\s*(.*?)\s*\}?$/.exec(item);
        if (!kv) throw new ConfigError(`inline table entry "${item}" is not key=value`);
        m.set(kv[1]!.toLowerCase(), kv[2]!);
      }
      return new MapTable(spec, m);
    }
    case 'static': {
      const v = arg.replace(/^\{\s*([\s\S]*?)\s*\}$/, '$1');
      return { spec, lookup: () => v };
    }
    default:
      throw new ConfigError(`unsupported lookup table type "${type}" in "${spec}"`);
  }
}
