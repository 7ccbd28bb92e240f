/**
 * @module engine/patterns
 * The shared front end of Postfix's match lists (match_list.c): the value of a parameter such
 * as mynetworks or relay_domains is a list of patterns, read left to right, where the first
 * match decides. `!pattern` inverts a pattern (Postfix 2.4+), and `/file/name` is replaced by
 * the patterns in that file (postconf(5) mynetworks, relay_domains).
 */
import { readFileSync } from 'node:fs';
import { parseList } from '../config/values.js';
import { ConfigError } from '../config/types.js';

export interface Pattern {
  /** The pattern without its `!` prefixes. */
  readonly text: string;
  /** True when an odd number of `!` preceded it: a match means "not in the list". */
  readonly negated: boolean;
  /** Where it came from, for messages: the parameter name or `name: /file/name`. */
  readonly source: string;
}

const MAX_FILE_DEPTH = 10;

/** Expands `!` and `/file/name` patterns; throws ConfigError for an unreadable file. */
export function expandPatterns(items: readonly string[], source: string, depth = 0): Pattern[] {
  const out: Pattern[] = [];
  for (const item of items) {
    let text = item;
    let negated = false;
    while (text.startsWith('!')) { negated = !negated; text = text.slice(1); }
    if (text === '') throw new ConfigError(`${source}: empty pattern after "!"`);
    if (text.startsWith('/')) {
      if (depth >= MAX_FILE_DEPTH) throw new ConfigError(`${source}: /file/name patterns nested too deeply at ${text}`);
      let body: string;
      try { body = readFileSync(text, 'utf8'); } catch (e) {
        throw new ConfigError(`${source}: cannot read pattern file ${text}: ${(e as Error).message}`);
      }
      // The file holds the same syntax as the parameter value; '#' starts a comment line.
      const lines = body.split(/\r?\n/).filter((l) => !/^\s*#/.test(l));
      for (const p of expandPatterns(parseList(lines.join(' ')), `${source}: ${text}`, depth + 1)) {
        out.push({ ...p, negated: p.negated !== negated });
      }
      continue;
    }
    out.push({ text, negated, source });
  }
  return out;
}

/** True when `pattern` is a `type:table` reference rather than a literal pattern. */
export function isTablePattern(pattern: string): boolean {
  return !pattern.startsWith('[') && /^[A-Za-z0-9_-]+:/.test(pattern);
}

/** Whether postconf(5) parent_domain_matches_subdomains names this feature. */
export function parentStyle(features: readonly string[], feature: string): boolean {
  return features.some((f) => f.toLowerCase() === feature);
}
