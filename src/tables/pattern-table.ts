/**
 * @module tables/pattern-table
 * `regexp:` and `pcre:` tables (regexp_table(5), pcre_table(5)), file or Postfix 3.7 inline
 * form. One rule per logical line, searched in file order; the first match gives the result:
 *
 *   /pattern/flags result       the pattern matches the whole lookup key somewhere
 *   !/pattern/flags result      the pattern does not match (no $n in the result)
 *   /pat1/!/pat2/ result        regexp: only, the legacy form of `if !/pat2/`
 *   if /pattern/flags  …  endif (also `if !/…/`), nested
 *
 * Any character that is not a letter, digit or white space may delimit a pattern; a backslash
 * before it keeps it inside (the backslash stays, as in Postfix). Flags toggle the defaults:
 * regexp `i` on, `m` off, `x` on (ERE); pcre `i` on, `m` off, `s` on, `x`, `A`, `E`, `U` off.
 * Patterns are translated to JavaScript by tables/posix-regex and tables/pcre-regex; a pattern
 * they refuse is a ConfigError naming the file and line (the table is not quietly changed).
 * A line Postfix skips with a warning (unknown flag, missing result, bad `$n`, stray `endif`,
 * text after `if`) is skipped the same way, with a warning naming file and line.
 * The table reloads when its file changes (tables/reload).
 */
import { ConfigError } from '../config/types.js';
import { translatePcre } from './pcre-regex.js';
import { translatePosix } from './posix-regex.js';
import { captureCount, RegexTranslateError } from './regex-builder.js';
import { TextTable } from './reload.js';
import { expandReplacement, parseReplacement, type Replacement } from './replacement.js';
import { inlineBody, inlineRules, logicalLines } from './source.js';
import { tableWarning } from './warnings.js';

export type PatternDialect = 'regexp' | 'pcre';

interface Test {
  readonly re: RegExp;
  /** True for `!/pattern/`: the rule applies when the pattern does not match. */
  readonly negated: boolean;
}

type Rule =
  | { kind: 'match'; first: Test; second?: Test; result: Replacement; line: number }
  | { kind: 'if'; test: Test; body: Rule[]; line: number };

export class PatternTable extends TextTable<readonly Rule[]> {
  readonly pattern = true;

  private constructor(spec: string, readonly dialect: PatternDialect, file: string, text?: string) {
    super(spec, { file, text }, (t, f) => parsePatternRules(t, f, dialect));
  }

  /** Opens `regexp:/path`, `pcre:{ {rule}, … }` … (not shared: openTable() caches); throws ConfigError. */
  static open(spec: string, dialect: PatternDialect): PatternTable {
    const arg = spec.slice(spec.indexOf(':') + 1);
    const body = inlineBody(arg);
    if (body === undefined) return new PatternTable(spec, dialect, arg);
    return new PatternTable(spec, dialect, spec, inlineRules(body, spec).map((r) => r.text).join('\n'));
  }

  protected find(rules: readonly Rule[], key: string): string | undefined {
    return search(rules, key);
  }
}

function search(rules: readonly Rule[], key: string): string | undefined {
  for (const r of rules) {
    if (r.kind === 'if') {
      if (r.test.re.test(key) === r.test.negated) continue;
      const inner = search(r.body, key);
      if (inner !== undefined) return inner;
      continue;
    }
    const m = r.first.re.exec(key);
    if ((m !== null) === r.first.negated) continue;
    if (r.second && r.second.re.test(key) === r.second.negated) continue;
    return expandReplacement(r.result, m);
  }
  return undefined;
}

/** One `[!…]/pattern/flags` starting at index i of a line. */
interface ParsedPattern {
  readonly test: Test;
  readonly source: string;
  readonly next: number;
}

function parsePatternRules(text: string, file: string, dialect: PatternDialect): Rule[] {
  const root: Rule[] = [];
  const stack: { body: Rule[]; line: number }[] = [{ body: root, line: 0 }];
  for (const { text: t, line } of logicalLines(text, file)) {
    try {
      parseRuleLine(t, line, file, dialect, stack);
    } catch (e) {
      if (e instanceof SkippedRuleFatal) throw new ConfigError(e.message, file, line);
      if (!(e instanceof SkippedRule)) throw e;
      // As Postfix: the rule is skipped with a warning naming file and line; the table stays usable.
      tableWarning(`${dialect} map ${file}, line ${line}: ${e.message}: skipping this rule`);
    }
  }
  if (stack.length > 1) tableWarning(`${dialect} map ${file}, line ${stack[stack.length - 1]!.line}: IF has no matching ENDIF`);
  return root;
}

/** A line Postfix skips with a warning (dict_regexp.c, dict_pcre.c). */
class SkippedRule extends Error {}
/** A rule mxguard cannot evaluate faithfully: fails the whole table (file and line added by the caller). */
class SkippedRuleFatal extends Error {}

function parseRuleLine(t: string, line: number, file: string, dialect: PatternDialect, stack: { body: Rule[]; line: number }[]): void {
  {
    const fail = (msg: string): never => { throw new SkippedRule(msg); };
    const top = stack[stack.length - 1]!;
    if (/^[A-Za-z0-9]/.test(t)) {
      if (/^if(?![A-Za-z0-9])/i.test(t)) {
        const pat = getPattern(t, 2, dialect, fail);
        const extra = t.slice(pat.next).trim();
        // regexp_table(5): "do not prepend whitespace to patterns inside if..endif" - an
        // indented rule would be joined to this line and lost; Postfix only warns.
        if (extra) fail(`extra text after IF statement: "${extra.slice(0, 60)}" (do not indent the lines between IF and ENDIF)`);
        const rule: Rule = { kind: 'if', test: pat.test, body: [], line };
        top.body.push(rule);
        stack.push({ body: rule.body, line });
        return;
      }
      if (/^endif(?![A-Za-z0-9])/i.test(t)) {
        if (stack.length === 1) fail('ignoring ENDIF without matching IF');
        if (t.slice(5).trim()) fail(`extra text after ENDIF: "${t.slice(5).trim().slice(0, 60)}"`);
        stack.pop();
        return;
      }
      fail(`unrecognized request "${t.slice(0, 40)}": expected /pattern/ result, if /pattern/ or endif`);
    }
    const first = getPattern(t, 0, dialect, fail);
    let i = first.next;
    let second: ParsedPattern | undefined;
    if (dialect === 'regexp' && t[i] === '!') {
      second = getPattern(t, i, dialect, fail);
      i = second.next;
    }
    const resultText = t.slice(i).trim();
    if (resultText === '') fail(`no replacement text after /${first.source}/`);
    let result: Replacement;
    try { result = parseReplacement(resultText); } catch (e) { return fail(`bad replacement syntax: ${(e as Error).message}`); }
    if (result.maxGroup > 0 && first.test.negated) fail('$number found in negative match replacement text');
    if (result.maxGroup > captureCount(first.test.re)) fail(`out of range replacement index "${result.maxGroup}": /${first.source}/ has ${captureCount(first.test.re)} () group(s)`);
    top.body.push({ kind: 'match', first: first.test, second: second?.test, result, line });
  }
  void file;
}

/** Negations, delimiter, pattern, flags; as dict_regexp_get_pat() / dict_pcre_get_pattern() read them. */
function getPattern(t: string, i: number, dialect: PatternDialect, fail: (msg: string) => never): ParsedPattern {
  let negated = false;
  for (; i < t.length && (t[i] === '!' || /\s/.test(t[i]!)); i++) if (t[i] === '!') negated = !negated;
  const delim = t[i];
  if (delim === undefined) return fail('no regexp');
  if (/[A-Za-z0-9]/.test(delim)) fail(`pattern delimiter "${delim}" must not be a letter or digit`);
  let j = i + 1;
  for (; j < t.length && t[j] !== delim; j++) if (t[j] === '\\' && j + 1 < t.length) j++;
  if (j >= t.length) fail(`no closing regexp delimiter "${delim}"`);
  const source = t.slice(i + 1, j);
  let k = j + 1;
  const flags = { i: true, m: false, x: dialect === 'regexp', s: true, A: false, E: false, U: false };
  for (; k < t.length && !/\s/.test(t[k]!) && !(dialect === 'regexp' && t[k] === '!'); k++) {
    const f = t[k]!;
    const known = dialect === 'regexp' ? 'imx' : 'imsxAEU';
    if (dialect === 'pcre' && f === 'X') { tableWarning(`pcre pattern /${source}/: ignoring obsolete regexp option "X" (not supported with PCRE2)`); continue; }
    if (!known.includes(f)) fail(`unknown regexp option "${f}" after /${source}/`);
    flags[f as keyof typeof flags] = !flags[f as keyof typeof flags];
  }
  let re: RegExp;
  try {
    re = dialect === 'regexp'
      ? translatePosix(source, { extended: flags.x, icase: flags.i, newline: flags.m })
      : translatePcre(source, {
        caseless: flags.i, multiline: flags.m, dotall: flags.s, extended: flags.x,
        anchored: flags.A, dollarEndOnly: flags.E, ungreedy: flags.U,
      });
  } catch (e) {
    // A pattern Postfix accepts but JavaScript cannot express: the table is refused, not quietly changed.
    if (e instanceof RegexTranslateError) throw new SkippedRuleFatal(`${dialect} pattern /${source}/: ${e.message}`);
    throw e;
  }
  return { test: { re, negated }, source, next: k };
}
