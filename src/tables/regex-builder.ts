/**
 * @module tables/regex-builder
 * Shared machinery of the POSIX and PCRE translators: an output buffer that knows where the
 * last atom starts (so a quantifier can be checked and, when stacked, wrapped), the group stack,
 * and the error type the table parsers turn into a ConfigError with file and line.
 */

/** A pattern that is invalid, or valid but not expressible as a JavaScript RegExp. */
export class RegexTranslateError extends Error {
  override readonly name = 'RegexTranslateError';
}

export class RegexBuilder {
  out = '';
  /** Output offset where the last quantifiable atom starts, or -1 when there is none. */
  private atomStart = -1;
  private quantified = false;
  private readonly groups: { at: number; capturing: boolean }[] = [];
  /** Capturing groups opened so far / closed so far (backreferences may only name closed ones). */
  opened = 0;
  closed = 0;

  /** True at the start of the pattern, of a group and of an alternative. */
  get atBranchStart(): boolean { return this.branchStart; }
  private branchStart = true;

  get hasAtom(): boolean { return this.atomStart >= 0; }
  get openGroups(): number { return this.groups.length; }

  /** How many atoms were written (a case option may only come before the first). */
  atoms = 0;

  atom(js: string): void {
    this.atoms++;
    this.atomStart = this.out.length;
    this.out += js;
    this.quantified = false;
    this.branchStart = false;
  }

  /** An assertion (`^`, `$`, `\b`): nothing to quantify after it. */
  assertion(js: string): void {
    this.out += js;
    this.atomStart = -1;
    this.quantified = false;
    this.branchStart = false;
  }

  /**
   * A quantifier for the last atom. POSIX allows stacking (`a+?` is `(a+)?`, never lazy), so a
   * second quantifier wraps the first in a non-capturing group; `stack` says whether that is
   * allowed (PCRE reads `+?` as lazy and `++` as possessive; its translator handles those).
   */
  quantifier(js: string, stack = true): void {
    if (this.atomStart < 0) throw new RegexTranslateError('Invalid preceding regular expression');
    if (this.quantified) {
      if (!stack) throw new RegexTranslateError('Invalid preceding regular expression (a repetition cannot be repeated)');
      this.out = `${this.out.slice(0, this.atomStart)}(?:${this.out.slice(this.atomStart)})`;
    }
    this.out += js;
    this.quantified = true;
  }

  open(capturing: boolean, js = capturing ? '(' : '(?:'): void {
    this.groups.push({ at: this.out.length, capturing });
    if (capturing) this.opened++;
    this.out += js;
    this.atomStart = -1;
    this.quantified = false;
    this.branchStart = true;
  }

  /** Closes a group; false when none is open (the caller decides: literal or error). */
  close(): boolean {
    const g = this.groups.pop();
    if (!g) return false;
    if (g.capturing) this.closed++;
    this.out += ')';
    this.atomStart = g.at;
    this.quantified = false;
    this.branchStart = false;
    return true;
  }

  alternative(): void {
    this.out += '|';
    this.atomStart = -1;
    this.quantified = false;
    this.branchStart = true;
  }
}

/** compile - the JavaScript RegExp; a construct V8 refuses becomes a RegexTranslateError. */
export function compile(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw new RegexTranslateError(`cannot be expressed as a JavaScript regular expression (${(e as Error).message})`);
  }
}

/** captureCount - how many capturing groups a compiled RegExp has. */
export function captureCount(re: RegExp): number {
  return new RegExp(`${re.source}|`, re.flags).exec('')!.length - 1;
}
