/**
 * @module tables/source
 * The line structure shared by every text table (postmap(1) INPUT FILE FORMAT, regexp_table(5),
 * pcre_table(5), cidr_table(5)): comment and blank lines are ignored, a line that starts with
 * white space continues the logical line before it (Postfix readllines() appends it as it is,
 * leading white space included, even across ignored lines), trailing white space is dropped.
 * Also the Postfix 3.7 inline form `type:{ {rule}, {rule} }`, one rule per logical line.
 */
import { ConfigError } from '../config/types.js';

export interface LogicalLine {
  readonly text: string;
  /** 1-based number of the line where the logical line starts (Postfix reports that one). */
  readonly line: number;
}

/** logicalLines - split a table file into logical lines; a first line indented is an error, as in Postfix. */
export function logicalLines(text: string, file: string): LogicalLine[] {
  const out: { text: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*(#|$)/.test(raw)) return;
    if (/^\s/.test(raw)) {
      const last = out[out.length - 1];
      if (!last) throw new ConfigError(`logical line must not start with whitespace: "${raw.trim().slice(0, 60)}"`, file, i + 1);
      last.text += raw;
      return;
    }
    out.push({ text: raw, line: i + 1 });
  });
  return out.map((l) => ({ text: l.text.trimEnd(), line: l.line }));
}

/**
 * inlineBody - the text between the outer braces of `type:{ … }`, or undefined when the table
 * argument is a file name.
 */
export function inlineBody(arg: string): string | undefined {
  const m = /^\{([\s\S]*)\}$/.exec(arg.trim());
  return m ? m[1]! : undefined;
}

/**
 * inlineRules - `{ rule-1 }, { rule-2 }` → one logical line per rule, numbered from 1 (the
 * in-memory file of regexp_table(5) INLINE SPECIFICATION). Braces nest, so `{ /a{2}/ x }` is one
 * rule, as Postfix's brace-aware tokenizer reads it.
 */
export function inlineRules(body: string, spec: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let i = 0;
  while (i < body.length) {
    while (i < body.length && /[\s,]/.test(body[i]!)) i++;
    if (i >= body.length) break;
    if (body[i] !== '{') throw new ConfigError(`expected "{ rule }" at "${body.slice(i, i + 20)}"`, spec);
    let depth = 0;
    let end = i;
    for (; end < body.length; end++) {
      if (body[end] === '{') depth++;
      else if (body[end] === '}' && --depth === 0) break;
    }
    if (end >= body.length) throw new ConfigError(`missing "}" after "${body.slice(i, i + 20)}"`, spec);
    out.push({ text: body.slice(i + 1, end).trim(), line: out.length + 1 });
    i = end + 1;
  }
  return out;
}
