/**
 * @module tables/types
 * The contract every lookup table keeps, whatever its type. Kept apart from index.ts so that
 * the table implementations can import it without importing the type dispatcher.
 */

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
