/**
 * @module tables/posix-regex
 * POSIX regular expressions as regexp_table(5) compiles them (regcomp(3) with glibc: extended
 * syntax unless the `x` flag turns it off, REG_ICASE, REG_NEWLINE for `m`), translated to a
 * JavaScript RegExp with the same matches.
 *
 * - ERE (default) and BRE (`x` toggled) syntax, with glibc's GNU extensions: `\w \W \s \S \b
 *   \B \< \> \` \'`, back-references `\1`…`\9`, and in BRE `\+ \? \|`.
 * - Bracket expressions: `]` first is a member, a backslash is an ordinary member, classes
 *   `[:alpha:]` …, one-character `[.x.]` and `[=x=]`.
 * - Without REG_NEWLINE `.` and `[^…]` match a newline and `^`/`$` only match at the ends;
 *   with it they do not, and `^`/`$` also match at line breaks (regex(3)).
 * - Stacked repetition `a+?` is `(a+)?` (POSIX), never JavaScript's lazy `+?`.
 * Refused with a reason (RegexTranslateError): what glibc refuses (`*a`, `a{2,1}`, `[z-a]`,
 * unmatched `(` or `[`), and `\` before a letter or digit that is not one of the extensions
 * above: POSIX leaves it undefined, and glibc makes `\d` match nothing under REG_ICASE (the
 * default) but a plain `d` without it — a `[0-9]` was surely meant.
 *
 * XXX: POSIX picks the leftmost-longest match, JavaScript the leftmost-first; whether a
 * pattern matches is the same, but `$n` substitutions from an alternation such as `(a|ab)`
 * may capture less than Postfix would. Multi-character collating elements are refused.
 */
import { classMembers, escapeClassChar, escapeLiteral, JS } from './posix-classes.js';
import { compile, RegexBuilder, RegexTranslateError } from './regex-builder.js';

export interface PosixOptions {
  /** REG_EXTENDED: ERE syntax (regexp_table(5) flag `x`, default on). */
  readonly extended: boolean;
  /** REG_ICASE (flag `i`, default on). */
  readonly icase: boolean;
  /** REG_NEWLINE (flag `m`, default off). */
  readonly newline: boolean;
}

const RE_DUP_MAX = 0x7fff;

/** translatePosix - compile a POSIX pattern into an equivalent RegExp, or throw RegexTranslateError. */
export function translatePosix(pattern: string, o: PosixOptions): RegExp {
  const b = new RegexBuilder();
  const p = pattern;
  let i = 0;
  const lineStart = o.newline ? '(?<![^\\n])' : '^';
  const lineEnd = o.newline ? '(?![^\\n])' : '$';
  const dot = o.newline ? JS.notNewline : JS.anyChar;

  while (i < p.length) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) throw new RegexTranslateError('Trailing backslash');
      i += 2;
      if (!o.extended && n === '(') { b.open(true); continue; }
      if (!o.extended && n === ')') { if (!b.close()) throw new RegexTranslateError('Unmatched ) or \\)'); continue; }
      if (!o.extended && n === '|') { b.alternative(); continue; }
      if (!o.extended && (n === '+' || n === '?')) {
        if (!b.hasAtom) { b.atom(escapeLiteral(n)); continue; }
        b.quantifier(n, false);
        continue;
      }
      if (!o.extended && n === '{') { i = interval(p, i, '\\}', b); continue; }
      i = escape(n, p, i, b);
      continue;
    }
    i++;
    switch (c) {
      case '[': {
        const r = bracket(p, i, o.newline);
        b.atom(r.js);
        i = r.next;
        break;
      }
      case '.':
        b.atom(dot);
        break;
      case '^':
        if (o.extended || b.atBranchStart) b.assertion(lineStart);
        else b.atom('\\^');
        break;
      case '$': {
        const rest = p.slice(i);
        if (o.extended || rest === '' || rest.startsWith('\\)') || rest.startsWith('\\|')) b.assertion(lineEnd);
        else b.atom('\\$');
        break;
      }
      case '*':
        // BRE: a leading `*` (of the pattern, a group, an alternative, or after `^`) is literal.
        if (!o.extended && !b.hasAtom) b.atom('\\*');
        else b.quantifier('*', o.extended);
        break;
      case '+': case '?':
        if (o.extended) b.quantifier(c);
        else b.atom(escapeLiteral(c));
        break;
      case '{':
        if (o.extended) i = interval(p, i, '}', b);
        else b.atom('\\{');
        break;
      case '(':
        if (o.extended) b.open(true);
        else b.atom('\\(');
        break;
      case ')':
        // glibc's ERE syntax has RE_UNMATCHED_RIGHT_PAREN_ORD: a stray `)` is an ordinary character.
        if (!o.extended || !b.close()) b.atom('\\)');
        break;
      case '|':
        if (o.extended) b.alternative();
        else b.atom('\\|');
        break;
      default:
        b.atom(escapeLiteral(c));
    }
  }
  if (b.openGroups > 0) throw new RegexTranslateError('Unmatched ( or \\(');
  return compile(b.out, o.icase ? 'i' : '');
}

/** One `\x` escape outside a bracket expression (both syntaxes); returns the next index. */
function escape(n: string, p: string, i: number, b: RegexBuilder): number {
  switch (n) {
    case 'w': b.atom('\\w'); return i;
    case 'W': b.atom('\\W'); return i;
    case 's': b.atom(JS.space); return i;
    case 'S': b.atom(JS.notSpace); return i;
    case 'b': b.assertion('\\b'); return i;
    case 'B': b.assertion('\\B'); return i;
    case '<': b.assertion(JS.wordStart); return i;
    case '>': b.assertion(JS.wordEnd); return i;
    case '`': b.assertion(JS.start); return i;
    case "'": b.assertion(JS.end); return i;
  }
  if (/[1-9]/.test(n)) {
    if (Number(n) > b.closed) throw new RegexTranslateError('Invalid back reference');
    b.atom(`(?:\\${n})`);
    return i;
  }
  if (/[0-9A-Za-z]/.test(n)) {
    const hint = n === 'd' ? ' (use [0-9] or [[:digit:]])' : n === 'n' || n === 't' ? ' (there are no control-character escapes in POSIX regular expressions)' : '';
    throw new RegexTranslateError(`"\\${n}" is undefined in a POSIX regular expression${hint}`);
  }
  b.atom(escapeLiteral(n));
  return i;
}

/** `{m}`, `{m,}`, `{m,n}` or `{,n}` after `{` at index i; `close` is `}` (ERE) or `\}` (BRE). */
function interval(p: string, i: number, close: string, b: RegexBuilder): number {
  const m = /^(\d*)(,(\d*))?/.exec(p.slice(i))!;
  const end = i + m[0].length;
  if (!p.startsWith(close, end)) throw new RegexTranslateError(close === '}' ? 'Unmatched \\{' : 'Unmatched \\{ or invalid interval');
  const lo = m[1] === '' ? 0 : Number(m[1]);
  const hi = m[2] === undefined ? lo : m[3] === '' ? Infinity : Number(m[3]);
  if ((m[1] === '' && m[2] === undefined) || lo > hi || lo > RE_DUP_MAX || (hi !== Infinity && hi > RE_DUP_MAX)) {
    throw new RegexTranslateError('Invalid content of \\{\\}');
  }
  // glibc stacks repetitions in ERE only (`a*{2}`); in BRE `a*\{2\}` is an error.
  b.quantifier(m[2] === undefined ? `{${lo}}` : hi === Infinity ? `{${lo},}` : `{${lo},${hi}}`, close === '}');
  return end + close.length;
}

/**
 * A POSIX bracket expression starting after `[` at index i. With REG_NEWLINE a non-matching
 * list does not match a newline (regex(3)).
 */
function bracket(p: string, i: number, newline: boolean): { js: string; next: number } {
  let negate = false;
  if (p[i] === '^') { negate = true; i++; }
  const items: string[] = [];
  let first = true;
  const element = (): { char?: string; members?: string } => {
    const c = p[i]!;
    if (c === '[' && (p[i + 1] === ':' || p[i + 1] === '=' || p[i + 1] === '.')) {
      const kind = p[i + 1]!;
      const close = p.indexOf(`${kind}]`, i + 2);
      if (close < 0) throw new RegexTranslateError('Unmatched [, [^, [:, [., or [=');
      const name = p.slice(i + 2, close);
      i = close + 2;
      if (kind === ':') {
        const members = classMembers(name, false);
        if (members === undefined) throw new RegexTranslateError(`Invalid character class name "${name}"`);
        return { members };
      }
      if (name.length !== 1) throw new RegexTranslateError(`Invalid collation character "${name}" (only one-character collating elements are supported)`);
      return { char: name };
    }
    i++;
    return { char: c };
  };
  for (;;) {
    if (i >= p.length) throw new RegexTranslateError('Unmatched [, [^, [:, [., or [=');
    if (p[i] === ']' && !first) { i++; break; }
    first = false;
    const start = element();
    if (p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
      i++;
      if (start.char === undefined || (p[i] === '[' && (p[i + 1] === ':' || p[i + 1] === '='))) throw new RegexTranslateError('Invalid range end');
      const end = element();
      if (end.char === undefined || end.char.charCodeAt(0) < start.char.charCodeAt(0)) throw new RegexTranslateError('Invalid range end');
      items.push(`${escapeClassChar(start.char)}-${escapeClassChar(end.char)}`);
      continue;
    }
    items.push(start.members ?? escapeClassChar(start.char!));
  }
  return { js: `[${negate ? '^' : ''}${items.join('')}${negate && newline ? '\\n' : ''}]`, next: i };
}
