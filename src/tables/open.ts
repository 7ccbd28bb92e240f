/**
 * @module tables/open
 * `type:name` → a LookupTable, one shared instance per table (DATABASE_README "type:name").
 * Opening the same table twice gives the same object; a second open also checks the file at
 * once (TextTable.refresh), so that a configuration being loaded sees the file as it is now and a
 * malformed one is a ConfigError, not a warning.
 *
 * `proxy:` is dropped: proxymap(8) only changes which process opens the file. Types that are
 * not files (mysql:, ldap:, socketmap:, tcp:, …) are refused: mxguard reads file-based tables
 * only.
 */
import { ConfigError } from '../config/types.js';
import { CidrTable } from './cidr.js';
import { MapTable } from './map.js';
import { PatternTable } from './pattern-table.js';
import { TextTable } from './reload.js';
import type { LookupTable } from './types.js';

/** Source-text tables and the compiled file postmap(1) would make next to the source. */
const INDEXED: Readonly<Record<string, string>> = {
  hash: '.db', btree: '.db', lmdb: '.lmdb', cdb: '.cdb', texthash: '',
};

/** The table types openTable() reads, for messages. */
export const SUPPORTED_TABLE_TYPES: readonly string[] = [...Object.keys(INDEXED), 'cidr', 'regexp', 'pcre', 'inline', 'static'];

const cache = new Map<string, LookupTable>();

/** normalizeTableSpec - `proxy:` removed, the type lower-cased: the cache key, and what a table reports as its spec. */
export function normalizeTableSpec(spec: string): string {
  let s = spec.trim();
  while (/^proxy:/i.test(s)) s = s.slice('proxy:'.length);
  const i = s.indexOf(':');
  return i < 0 ? s : s.slice(0, i).toLowerCase() + s.slice(i);
}

/**
 * openTable - the shared table for a `type:name` spec. Throws ConfigError for a malformed
 * file (with file and line), an unreadable one, or an unsupported type.
 */
export function openTable(spec: string): LookupTable {
  const key = normalizeTableSpec(spec);
  const cached = cache.get(key);
  if (cached) {
    if (cached instanceof TextTable) cached.refresh();
    return cached;
  }
  const table = openUncached(key);
  cache.set(key, table);
  return table;
}

/** clearTableCache - forget every opened table; the next openTable() reads the files afresh. */
export function clearTableCache(): void {
  cache.clear();
}

function openUncached(spec: string): LookupTable {
  const i = spec.indexOf(':');
  if (i < 0) throw new ConfigError(`table "${spec}" has no "type:" prefix`);
  const type = spec.slice(0, i);
  const arg = spec.slice(i + 1);
  if (type in INDEXED) {
    if (arg.trim().startsWith('{')) throw new ConfigError(`${type}: tables are files; write the entries inline as inline:{ … }: "${spec}"`);
    return MapTable.openFile(spec, arg, INDEXED[type]!);
  }
  switch (type) {
    case 'cidr':
      return CidrTable.open(spec);
    case 'regexp': case 'pcre':
      return PatternTable.open(spec, type);
    case 'inline': {
      const body = /^\{([\s\S]*)\}$/.exec(arg.trim());
      if (!body) throw new ConfigError(`inline table must be written inline:{ key=value, ... }: "${spec}"`);
      return MapTable.inline(spec, body[1]!);
    }
    case 'static': {
      // DATABASE_README: static:value, or static:{ text with spaces } (3.7).
      const value = arg.replace(/^\{\s*([\s\S]*?)\s*\}$/, '$1');
      return { spec, lookup: () => value };
    }
    default:
      throw new ConfigError(`unsupported lookup table type "${type}" in "${spec}": mxguard reads file-based tables only (${SUPPORTED_TABLE_TYPES.join(', ')})`);
  }
}
