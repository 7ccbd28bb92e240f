/**
 * @module tables/pcre-regex
 * Perl-compatible patterns as pcre_table(5) compiles them (PCRE2 in Postfix 3.7), translated to
 * a JavaScript RegExp with the same matches. Every flag is translated into the pattern itself
 * (only `i` stays a RegExp flag), because PCRE's defaults differ from JavaScript's:
 *
 * - `s` DOTALL (default on): `.` is `[\s\S]`, else any character but `\n`;
 * - `m` MULTILINE (off): `^` after an internal newline, `$` before any newline;
 * - without `m`, `$` also matches before a final newline unless `E` DOLLAR_ENDONLY is set;
 * - `x` EXTENDED (off): white space and `#…` comments outside classes are dropped;
 * - `A` ANCHORED: the match must start at the start of the subject;
 * - `U` UNGREEDY: `*` is lazy and `*?` greedy;
 * - `X` EXTRA does not exist with PCRE2: ignored with a warning, as Postfix does.
 * Option settings `(?s)`, `(?-x)`, `(?m:…)` … apply to the rest of their group, as in PCRE2; a
 * case change `(?i)`/`(?-i)` only at the start of the pattern (JavaScript has one case flag for
 * the whole expression). Also translated:
 * POSIX classes `[[:alpha:]]`, `[[:^digit:]]` (alone in a class), `\A \z \Z \G \h \H \v \V \R
 * \N \Q…\E \xhh \x{hhhh} \o{…} \0nn \e \a \cX`, `(?P<name>…)`, `(?P=name)`, `\g{n}`,
 * `\k{name}`, `(?#comment)`.
 *
 * Refused with a reason (RegexTranslateError): what JavaScript cannot express — possessive
 * quantifiers, atomic groups, recursion, conditionals, backtracking verbs, `\K`, `\X`,
 * `\p{…}`, and case option changes after the start.
 * XXX: subjects are matched as JavaScript strings (UTF-16), PCRE sees bytes; they agree on ASCII.
 */
import { classMembers, escapeClassChar, escapeLiteral, JS } from './posix-classes.js';
import { compile, RegexBuilder, RegexTranslateError } from './regex-builder.js';

export interface PcreOptions {
  readonly caseless: boolean;
  readonly multiline: boolean;
  readonly dotall: boolean;
  readonly extended: boolean;
  readonly anchored: boolean;
  readonly dollarEndOnly: boolean;
  readonly ungreedy: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const INLINE_FLAG: Readonly<Record<string, keyof PcreOptions>> = {
  i: 'caseless', m: 'multiline', s: 'dotall', x: 'extended', U: 'ungreedy',
};

const SPACE = ' \\t\\n\\v\\f\\r';
const HSPACE = ' \\t\\xa0';
const VSPACE = '\\n\\v\\f\\r\\x85';

/** translatePcre - compile a PCRE pattern into an equivalent RegExp, or throw RegexTranslateError. */
export function translatePcre(pattern: string, options: PcreOptions): RegExp {
  let o: Mutable<PcreOptions> = { ...options };
  const p = pattern;
  const totalGroups = countGroups(p);
  const b = new RegexBuilder();
  // Options in force outside each open group, restored when it closes (PCRE2: an option
  // setting lasts to the end of the group it is in).
  const saved: Mutable<PcreOptions>[] = [];
  let i = 0;
  while (i < p.length) {
    const setting = /^\(\?([imsxU]*)(?:-([imsxU]*))?(\)|:)/.exec(p.slice(i));
    if (setting && setting[0] !== '(?:' && setting[0] !== '(?)') {
      const next = { ...o };
      for (const f of setting[1]!) next[INLINE_FLAG[f]!] = true;
      for (const f of setting[2] ?? '') next[INLINE_FLAG[f]!] = false;
      // JavaScript has one case flag for the whole expression (no (?i:) in Node 20): a change
      // is only possible before anything case-sensitive and for the rest of the pattern.
      if (next.caseless !== o.caseless && (b.atoms > 0 || b.openGroups > 0 || setting[3] === ':')) {
        throw new RegexTranslateError('a case option such as (?i) or (?-i) is only supported at the start of the pattern; use the table flag i');
      }
      if (setting[3] === ':') { saved.push(o); b.open(false); } else if (b.openGroups > 0) {
        throw new RegexTranslateError('option settings inside a group are not supported; use (?s:…) or the table flags');
      }
      o = next;
      i += setting[0].length;
      continue;
    }
    const c = p[i]!;
    if (o.extended && /[ \t\n\v\f\r]/.test(c)) { i++; continue; }
    if (o.extended && c === '#') { const nl = p.indexOf('\n', i); i = nl < 0 ? p.length : nl + 1; continue; }
    i++;
    switch (c) {
      case '\\':
        i = escape(p, i, b, totalGroups);
        break;
      case '[': {
        const r = charClass(p, i);
        if (r.assertion) b.assertion(r.js);
        else b.atom(r.js);
        i = r.next;
        break;
      }
      case '.':
        b.atom(o.dotall ? JS.anyChar : JS.notNewline);
        break;
      case '^':
        // PCRE2 MULTILINE: after an internal newline, not after a final one.
        b.assertion(o.multiline ? '(?:(?<![\\s\\S])|(?<=\\n)(?=[\\s\\S]))' : JS.start);
        break;
      case '$':
        b.assertion(o.multiline ? '(?=\\n|(?![\\s\\S]))' : o.dollarEndOnly ? JS.end : '(?=\\n?(?![\\s\\S]))');
        break;
      case '*': case '+': case '?':
        i = quantifier(c, p, i, b, o.ungreedy);
        break;
      case '{': {
        const m = /^(\d+)(,(\d*))?\}/.exec(p.slice(i));
        if (!m) { b.atom('\\{'); break; }
        if (m[3] && Number(m[3]) < Number(m[1])) throw new RegexTranslateError('numbers out of order in {} quantifier');
        i = quantifier(`{${m[0]}`, p, i + m[0].length, b, o.ungreedy);
        break;
      }
      case '(': {
        const depth = b.openGroups;
        i = group(p, i, b);
        if (b.openGroups > depth) saved.push(o);
        break;
      }
      case ')':
        if (!b.close()) throw new RegexTranslateError('unmatched closing parenthesis');
        o = saved.pop() ?? o;
        break;
      case '|':
        b.alternative();
        break;
      default:
        b.atom(escapeLiteral(c));
    }
  }
  if (b.openGroups > 0) throw new RegexTranslateError('missing closing parenthesis');
  const source = options.anchored ? `${JS.start}(?:${b.out})` : b.out;
  return compile(source, o.caseless ? 'i' : '');
}

/** Capturing groups in the pattern, to tell `\12` (back-reference) from `\12` (octal). */
function countGroups(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') { i++; continue; }
    if (p[i] === '[') { const e = p.indexOf(']', i + 2); if (e > 0) i = e; continue; }
    if (p[i] === '(' && (p[i + 1] !== '?' || /^\?(P?<[A-Za-z_]|')/.test(p.slice(i + 1)))) n++;
  }
  return n;
}

/** A quantifier and its `?` (lazy) or `+` (possessive) suffix; `U` swaps lazy and greedy. */
function quantifier(q: string, p: string, i: number, b: RegexBuilder, ungreedy: boolean): number {
  let lazy = ungreedy;
  if (p[i] === '?') { lazy = !lazy; i++; }
  else if (p[i] === '+') throw new RegexTranslateError('possessive quantifiers cannot be expressed in JavaScript');
  if (!b.hasAtom) throw new RegexTranslateError('quantifier does not follow a repeatable item');
  b.quantifier(q + (lazy ? '?' : ''), false);
  return i;
}

/** After `(`: the kind of group, or a comment. */
function group(p: string, i: number, b: RegexBuilder): number {
  if (p[i] !== '?') {
    if (p[i] === '*') throw new RegexTranslateError('backtracking control verbs such as (*FAIL) cannot be expressed in JavaScript');
    b.open(true);
    return i;
  }
  const rest = p.slice(i + 1);
  if (rest.startsWith('#')) {
    const end = p.indexOf(')', i);
    if (end < 0) throw new RegexTranslateError('missing ) at end of (?# comment');
    return end + 1;
  }
  for (const la of [':', '=', '!', '<=', '<!']) {
    if (rest.startsWith(la)) { b.open(false, `(?${la}`); return i + 1 + la.length; }
  }
  const named = /^(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')/.exec(rest);
  if (named) { b.open(true, `(?<${named[1] ?? named[2]}>`); return i + 1 + named[0].length; }
  const ref = /^P=([A-Za-z_]\w*)\)/.exec(rest);
  if (ref) { b.atom(`\\k<${ref[1]}>`); return i + 1 + ref[0].length; }
  if (rest.startsWith('>')) throw new RegexTranslateError('atomic groups (?>…) cannot be expressed in JavaScript');
  if (rest.startsWith('|')) throw new RegexTranslateError('branch reset groups (?|…) cannot be expressed in JavaScript');
  if (rest.startsWith('(')) throw new RegexTranslateError('conditional groups (?(…)…) cannot be expressed in JavaScript');
  if (/^(R|[+-]?\d|&|P>)/.test(rest)) throw new RegexTranslateError('recursion and subroutine calls cannot be expressed in JavaScript');
  if (/^[imsxnUJ-]/.test(rest)) throw new RegexTranslateError('option settings such as (?i) are only supported at the start of the pattern; use the table flags');
  throw new RegexTranslateError(`unrecognized character after (? ("${rest.slice(0, 10)}")`);
}

/** A character written as `\xHH` / `\uHHHH`. */
function codePoint(n: number): string {
  if (n > 0xffff) throw new RegexTranslateError('characters above U+FFFF are not supported');
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** Escapes that mean one character, inside or outside a class; undefined when `\c` is something else. */
function charEscape(p: string, i: number): { js: string; next: number } | undefined {
  const n = p[i]!;
  const simple: Record<string, string> = { n: '\\n', t: '\\t', r: '\\r', f: '\\f', e: '\\x1b', a: '\\x07' };
  if (simple[n]) return { js: simple[n], next: i + 1 };
  if (n === 'x') {
    const braced = /^\{([0-9A-Fa-f]+)\}/.exec(p.slice(i + 1));
    if (braced) return { js: codePoint(parseInt(braced[1]!, 16)), next: i + 1 + braced[0].length };
    const m = /^[0-9A-Fa-f]{0,2}/.exec(p.slice(i + 1))!;
    return { js: codePoint(m[0] ? parseInt(m[0], 16) : 0), next: i + 1 + m[0].length };
  }
  if (n === 'o') {
    const m = /^\{([0-7]+)\}/.exec(p.slice(i + 1));
    if (!m) throw new RegexTranslateError('\\o must be followed by {octal digits}');
    return { js: codePoint(parseInt(m[1]!, 8)), next: i + 1 + m[0].length };
  }
  if (n === '0') {
    const m = /^[0-7]{0,2}/.exec(p.slice(i + 1))!;
    return { js: codePoint(parseInt(`0${m[0]}`, 8)), next: i + 1 + m[0].length };
  }
  if (n === 'c') {
    const x = p[i + 1];
    if (x === undefined || x.charCodeAt(0) > 0x7e) throw new RegexTranslateError('\\c must be followed by a printable ASCII character');
    return { js: codePoint(x.toUpperCase().charCodeAt(0) ^ 0x40), next: i + 2 };
  }
  return undefined;
}

/** One escape outside a class, after the backslash at index i - 1. */
function escape(p: string, i: number, b: RegexBuilder, totalGroups: number): number {
  const n = p[i];
  if (n === undefined) throw new RegexTranslateError('\\ at end of pattern');
  const setEscapes: Record<string, string> = {
    d: '\\d', D: '\\D', w: '\\w', W: '\\W', s: JS.space, S: JS.notSpace,
    h: `[${HSPACE}]`, H: `[^${HSPACE}]`, v: `[${VSPACE}]`, V: `[^${VSPACE}]`, N: JS.notNewline,
    R: `(?:\\r\\n|[${VSPACE}])`,
  };
  if (setEscapes[n]) { b.atom(setEscapes[n]); return i + 1; }
  const assertions: Record<string, string> = {
    b: '\\b', B: '\\B', A: JS.start, G: JS.start, z: JS.end, Z: '(?=\\n?(?![\\s\\S]))',
  };
  if (assertions[n]) { b.assertion(assertions[n]); return i + 1; }
  if (n === 'Q') {
    const end = p.indexOf('\\E', i + 1);
    const text = p.slice(i + 1, end < 0 ? p.length : end);
    for (const ch of text) b.atom(escapeLiteral(ch));
    return end < 0 ? p.length : end + 2;
  }
  if (n === 'E') return i + 1;
  if (/[1-9]/.test(n)) {
    const digits = /^\d+/.exec(p.slice(i))![0];
    if (Number(digits) <= totalGroups || digits.length === 1) {
      if (Number(digits) > totalGroups) throw new RegexTranslateError(`reference to non-existent subpattern \\${digits}`);
      b.atom(`(?:\\${digits})`);
      return i + digits.length;
    }
    const oct = /^[0-7]{1,3}/.exec(digits);
    if (!oct) throw new RegexTranslateError(`reference to non-existent subpattern \\${digits}`);
    b.atom(codePoint(parseInt(oct[0], 8)));
    return i + oct[0].length;
  }
  const g = /^g(?:\{(-?\d+)\}|(-?\d+))/.exec(p.slice(i));
  if (g) {
    let k = Number(g[1] ?? g[2]);
    if (k < 0) k = b.opened + 1 + k;
    if (k < 1 || k > totalGroups) throw new RegexTranslateError(`reference to non-existent subpattern in \\${g[0]}`);
    b.atom(`(?:\\${k})`);
    return i + g[0].length;
  }
  const k = /^(?:k<([A-Za-z_]\w*)>|k'([A-Za-z_]\w*)'|k\{([A-Za-z_]\w*)\}|g\{([A-Za-z_]\w*)\})/.exec(p.slice(i));
  if (k) { b.atom(`\\k<${k[1] ?? k[2] ?? k[3] ?? k[4]}>`); return i + k[0].length; }
  const ch = charEscape(p, i);
  if (ch) { b.atom(ch.js); return ch.next; }
  if (/[A-Za-z0-9]/.test(n)) {
    const why = n === 'K' ? '\\K' : n === 'X' ? '\\X' : n === 'p' || n === 'P' ? 'Unicode properties \\p{…}' : n === 'C' ? '\\C' : undefined;
    if (why) throw new RegexTranslateError(`${why} cannot be expressed in JavaScript`);
    throw new RegexTranslateError(`unrecognized character follows \\ ("\\${n}")`);
  }
  b.atom(escapeLiteral(n));
  return i + 1;
}

/**
 * A character class after `[` at index i. As in PCRE, `]` first is a member; escapes work
 * inside; POSIX classes are translated. `[[:<:]]` and `[[:>:]]` are word boundaries.
 */
function charClass(p: string, i: number): { js: string; next: number; assertion?: boolean } {
  if (p.startsWith('[:<:]]', i)) return { js: JS.wordStart, next: i + 6, assertion: true };
  if (p.startsWith('[:>:]]', i)) return { js: JS.wordEnd, next: i + 6, assertion: true };
  let negate = false;
  if (p[i] === '^') { negate = true; i++; }
  const items: string[] = [];
  let negatedPosix: string | undefined;
  let first = true;
  for (;;) {
    if (i >= p.length) throw new RegexTranslateError('missing terminating ] for character class');
    const c = p[i]!;
    if (c === ']' && !first) { i++; break; }
    first = false;
    const posix = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(i));
    if (posix) {
      const members = classMembers(posix[2]!, true);
      if (members === undefined) throw new RegexTranslateError(`unknown POSIX class name "${posix[2]}"`);
      if (posix[1]) negatedPosix = members;
      else items.push(members);
      i += posix[0].length;
      continue;
    }
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) throw new RegexTranslateError('\\ at end of pattern');
      const sets: Record<string, string> = { d: '\\d', D: '\\D', w: '\\w', W: '\\W', s: JS.space, S: JS.notSpace };
      if (sets[n]) {
        // \S and \s are spelled out as classes; inside a class only the positive one fits.
        if (n === 's') items.push(SPACE);
        else if (n === 'S') throw new RegexTranslateError('\\S inside a character class cannot be expressed; use [^...] instead');
        else items.push(sets[n]);
        i += 2;
        continue;
      }
      if (n === 'h') { items.push(HSPACE); i += 2; continue; }
      if (n === 'v') { items.push(VSPACE); i += 2; continue; }
      if (n === 'b') { items.push('\\x08'); i += 2; continue; }
      const ch = charEscape(p, i + 1);
      if (ch) { items.push(ch.js); i = ch.next; continue; }
      if (/[A-Za-z0-9]/.test(n)) throw new RegexTranslateError(`unrecognized escape "\\${n}" in a character class`);
      items.push(escapeClassChar(n));
      i += 2;
      continue;
    }
    if (c === '-' && items.length > 0 && p[i + 1] !== ']' && i + 1 < p.length) {
      // A range: the previous item must be one character.
      const prev = items[items.length - 1]!;
      const next = p[i + 1] === '\\' ? charEscape(p, i + 2) : { js: escapeClassChar(p[i + 1]!), next: i + 2 };
      if (next && isSingleChar(prev) && !(p[i + 1] === '[' && p[i + 2] === ':')) {
        if (charCode(prev) > charCode(next.js)) throw new RegexTranslateError('range out of order in character class');
        items[items.length - 1] = `${prev}-${next.js}`;
        i = next.next;
        continue;
      }
    }
    items.push(escapeClassChar(c));
    i++;
  }
  if (negatedPosix !== undefined) {
    if (items.length > 0 || negate) throw new RegexTranslateError('a negated POSIX class such as [:^digit:] must be alone in its brackets');
    return { js: `[^${negatedPosix}]`, next: i };
  }
  return { js: `[${negate ? '^' : ''}${items.join('')}]`, next: i };
}

function isSingleChar(js: string): boolean {
  return /^(\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\[^xudDwWsS]|[^\\])$/.test(js);
}

function charCode(js: string): number {
  if (/^\\x/.test(js) || /^\\u/.test(js)) return parseInt(js.slice(2), 16);
  const named: Record<string, number> = { '\\n': 10, '\\t': 9, '\\r': 13, '\\f': 12 };
  if (named[js] !== undefined) return named[js];
  return js.charCodeAt(js.length - 1);
}
