/**
 * @module tables
 * Postfix lookup tables read from the administrator's source files (DATABASE_README):
 * - `hash:`, `btree:`, `lmdb:`, `cdb:`, `texthash:` read the text that postmap(1) compiles,
 *   never the compiled file; keys are case-insensitive (tables/map);
 * - `cidr:` (cidr_table(5), tables/cidr), `regexp:` (regexp_table(5)) and `pcre:`
 *   (pcre_table(5), tables/pattern-table), from a file or inline `type:{ {rule}, … }`; these
 *   carry `pattern: true` and see only the full key of a search;
 * - `inline:{ key=value, … }` and `static:value`.
 * openTable() shares one instance per spec; file tables reload when the file changes and keep
 * the old contents, with a warning (setTableWarningHandler), when the new text is malformed.
 * A malformed table is a ConfigError with file and line.
 */
export type { LookupTable } from './types.js';
export { openTable, clearTableCache, normalizeTableSpec, SUPPORTED_TABLE_TYPES } from './open.js';
export { parseTableSource, parseInline, MapTable } from './map.js';
export { CidrTable, parseNetwork, parseClientAddress, inNetwork, type Network } from './cidr.js';
export { PatternTable, type PatternDialect } from './pattern-table.js';
export { setTableWarningHandler, type TableWarningHandler } from './warnings.js';
export { TextTable, RELOAD_CHECK_INTERVAL_MS } from './reload.js';
