/**
 * @module tables/map
 * Exact-key tables: `hash:`, `btree:`, `lmdb:`, `cdb:` and `texthash:` read the text file that
 * postmap(1) would compile (never the compiled .db/.lmdb/.cdb), and `inline:{ key=value, … }`
 * (DATABASE_README). Keys are case-insensitive: Postfix lower-cases them when it builds the
 * table and when it looks up (postmap(1) -f turns that off; mxguard has no -f).
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '../config/types.js';
import { TextTable } from './reload.js';
import { logicalLines } from './source.js';
import { tableWarning } from './warnings.js';

/**
 * parseTableSource - postmap(1) INPUT FILE FORMAT: `key whitespace value` per logical line.
 * A repeated key keeps its first value, with a warning, as postmap does ("duplicate entry").
 */
export function parseTableSource(text: string, file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const { text: line, line: no } of logicalLines(text, file)) {
    const mm = /^(\S+)\s+(\S[\s\S]*)$/.exec(line);
    if (!mm) throw new ConfigError(`expected "key whitespace value", found "${line.slice(0, 60)}"`, file, no);
    const key = mm[1]!.toLowerCase();
    if (m.has(key)) { tableWarning(`${file}, line ${no}: duplicate entry: "${key}": ignoring it`); continue; }
    m.set(key, mm[2]!.trim());
  }
  return m;
}

/**
 * parseInline - `inline:{ key=value, { key = value with spaces } }`: items separated by white
 * space or commas, braces group one item (a bare word without "=" continues the value before
 * it: `inline:{ a=error:5.1.2 gone }`, which Postfix refuses). A later duplicate replaces an earlier one (Postfix
 * builds an in-memory hash; verified with postmap -q). An empty value is refused, as Postfix says
 * "empty string result is not allowed".
 */
export function parseInline(body: string, spec: string): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  let last: string | undefined;
  while (i < body.length) {
    while (i < body.length && /[\s,]/.test(body[i]!)) i++;
    if (i >= body.length) break;
    let item: string;
    const braced = body[i] === '{';
    if (braced) {
      let depth = 0;
      let end = i;
      for (; end < body.length; end++) {
        if (body[end] === '{') depth++;
        else if (body[end] === '}' && --depth === 0) break;
      }
      if (end >= body.length) throw new ConfigError(`inline table: missing "}" in "${spec}"`);
      item = body.slice(i + 1, end).trim();
      i = end + 1;
    } else {
      const start = i;
      while (i < body.length && !/[\s,]/.test(body[i]!)) i++;
      item = body.slice(start, i);
    }
    const eq = item.indexOf('=');
    if (eq < 0 && last !== undefined && !braced) {
      // Not Postfix syntax (it wants { key = value with spaces }), but unambiguous: a word
      // without "=" continues the previous value, as mxguard has always read it.
      m.set(last, `${m.get(last)!} ${item}`);
      continue;
    }
    if (eq <= 0) throw new ConfigError(`inline table entry "${item}" is not key=value; write inline:{ key=value, { key = value with spaces } }`, spec);
    const value = item.slice(eq + 1).trim();
    if (value === '') throw new ConfigError(`inline table entry "${item}": an empty value is not allowed`, spec);
    last = item.slice(0, eq).trim().toLowerCase();
    m.set(last, value);
  }
  return m;
}

export class MapTable extends TextTable<ReadonlyMap<string, string>> {
  readonly pattern = false;

  private constructor(spec: string, file: string, text?: string) {
    super(spec, { file, text }, text === undefined ? parseTableSource : (t) => parseInline(t, spec));
  }

  /**
   * Opens `hash:/path` and friends from the source text. When only the compiled file exists,
   * the error says where the source text must be.
   */
  static openFile(spec: string, path: string, compiledSuffix: string): MapTable {
    if (!existsSync(path) && compiledSuffix && existsSync(path + compiledSuffix)) {
      throw new ConfigError(`cannot read table ${spec}: only ${path}${compiledSuffix} exists; mxguard reads the source text file that postmap compiles — put it at ${path}`);
    }
    if (!existsSync(path)) throw new ConfigError(`cannot read table ${spec}: ${path}: no such file`);
    return new MapTable(spec, path);
  }

  /** Opens `inline:{ … }` given the text between the outer braces. */
  static inline(spec: string, body: string): MapTable {
    return new MapTable(spec, spec, body);
  }

  protected find(entries: ReadonlyMap<string, string>, key: string): string | undefined {
    return entries.get(key.toLowerCase());
  }
}
