/**
 * @module tables/replacement
 * The result text of regexp:/pcre: rules (regexp_table(5) TEXT SUBSTITUTION): `$1`…, `${n}`
 * and `$(n)` insert what the n-th `()` matched (nothing when it did not take part), `$$` is
 * a `$`. Checked when the table is read, as Postfix's mac_parse() pre-scan does: a lone `$`,
 * `$0`, `$1x`, an unclosed `${1` are errors (Postfix skips such a rule with a warning; mxguard
 * refuses the table, so that a typo cannot silently drop a rule).
 */

/** Literal text, or the number of a group to insert. */
export type ReplacementPart = string | number;

export interface Replacement {
  readonly parts: readonly ReplacementPart[];
  /** The highest group number used; 0 when the result is constant. */
  readonly maxGroup: number;
}

/** parseReplacement - split a result into parts; throws Error with the reason. */
export function parseReplacement(text: string): Replacement {
  const parts: ReplacementPart[] = [];
  let literal = '';
  let maxGroup = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$') { literal += c; i++; continue; }
    const n = text[i + 1];
    let name: string;
    if (n === '$') { literal += '$'; i += 2; continue; }
    if (n === '{' || n === '(') {
      const close = text.indexOf(n === '{' ? '}' : ')', i + 2);
      if (close < 0) throw new Error(`truncated macro reference: "${text.slice(i)}"`);
      name = text.slice(i + 2, close);
      i = close + 1;
    } else {
      const m = /^\w+/.exec(text.slice(i + 1));
      if (!m) throw new Error(`empty macro name in "${text}" (write $$ for a literal $)`);
      name = m[0];
      i += 1 + name.length;
    }
    if (!/^\d+$/.test(name)) throw new Error(`non-numeric replacement index "${name}"`);
    const g = Number(name);
    if (g < 1) throw new Error(`out-of-range replacement index "${name}"`);
    if (literal) { parts.push(literal); literal = ''; }
    parts.push(g);
    maxGroup = Math.max(maxGroup, g);
  }
  if (literal) parts.push(literal);
  return { parts, maxGroup };
}

/** expandReplacement - the result for one match. */
export function expandReplacement(r: Replacement, match: RegExpExecArray | null): string {
  let out = '';
  for (const part of r.parts) out += typeof part === 'string' ? part : match?.[part] ?? '';
  return out;
}
