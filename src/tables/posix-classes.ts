/**
 * @module tables/posix-classes
 * POSIX bracket-expression character classes (`[:alpha:]` …, re_format(7)/regex(7)) as the
 * members of a JavaScript character class, in the C locale that Postfix's lookups use.
 * Shared by the POSIX (regexp:) and PCRE (pcre:) translators.
 */

const CLASSES: Readonly<Record<string, string>> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\v\\f\\r',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
  word: '0-9A-Za-z_', // PCRE only; a POSIX class name error otherwise (see caller)
};

/** classMembers - `alpha` → `A-Za-z`; undefined for a name that is not a class. */
export function classMembers(name: string, pcre: boolean): string | undefined {
  if (name === 'word' && !pcre) return undefined;
  return CLASSES[name];
}

/** escapeClassChar - one character written safely inside a JavaScript `[...]`. */
export function escapeClassChar(c: string): string {
  if (c === '\n') return '\\n';
  if (/[\\\]\[^-]/.test(c)) return '\\' + c;
  const code = c.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  return c;
}

/** escapeLiteral - one character written as a literal outside a character class. */
export function escapeLiteral(c: string): string {
  if (/[\\^$.|?*+()[\]{}\/]/.test(c)) return '\\' + c;
  const code = c.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  return c;
}

/** JavaScript fragments for positions and sets both translators need. */
export const JS = {
  /** Start of the subject, whatever the flags (no `m` flag is ever used). */
  start: '(?<![\\s\\S])',
  /** End of the subject. */
  end: '(?![\\s\\S])',
  anyChar: '[\\s\\S]',
  notNewline: '[^\\n]',
  space: '[ \\t\\n\\v\\f\\r]',
  notSpace: '[^ \\t\\n\\v\\f\\r]',
  wordStart: '\\b(?=\\w)',
  wordEnd: '\\b(?<=\\w)',
} as const;
