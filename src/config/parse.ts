/**
 * @module config/parse
 * Reads main.cf and master.cf text as Postfix does (postconf(5) "SYNTAX", master(5)):
 * `#` comment lines, blank lines, logical lines continued by lines that start with whitespace.
 */
import { ConfigError } from './types.js';

export interface Located<T> { readonly value: T; readonly file: string; readonly line: number }

/** Joins continuation lines; each logical line keeps the number of its first physical line. */
export function logicalLines(text: string, file: string): Located<string>[] {
  const out: { value: string; file: string; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    if (/^\s*#/.test(raw) || /^\s*$/.test(raw)) return; // comments and blank lines never end or start a logical line
    if (/^\s/.test(raw)) {
      const last = out[out.length - 1];
      if (!last) throw new ConfigError('logical line must not start with whitespace', file, i + 1);
      last.value += ' ' + raw.trim();
      return;
    }
    out.push({ value: raw.trimEnd(), file, line: i + 1 });
  });
  return out;
}

/** main.cf: `name = value` lines. A later setting of a name overrides an earlier one. */
export function parseMainCf(text: string, file: string): Map<string, Located<string>> {
  const params = new Map<string, Located<string>>();
  for (const l of logicalLines(text, file)) {
    const m = /^([A-Za-z0-9_.\-]+)\s*=\s*(.*)$/s.exec(l.value);
    if (!m) throw new ConfigError(`missing '=' after parameter name: "${l.value.slice(0, 60)}"`, file, l.line);
    params.set(m[1]!, { value: m[2]!.trim(), file, line: l.line });
  }
  return params;
}

export interface MasterService {
  /** Service name: `[host:]port` for inet services. */
  readonly name: string;
  readonly type: string;
  readonly command: string;
  readonly args: readonly string[];
  /** `-o name=value` overrides, in order. */
  readonly overrides: ReadonlyMap<string, string>;
  readonly file: string;
  readonly line: number;
}

/** Splits master.cf arguments, honouring `{ … }` grouping (Postfix 3.0+) for values with spaces. */
function splitArgs(s: string, file: string, line: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    if (s[i] === '{') {
      let depth = 0; let j = i;
      for (; j < s.length; j++) {
        if (s[j] === '{') depth++;
        else if (s[j] === '}' && --depth === 0) break;
      }
      if (depth !== 0) throw new ConfigError('unbalanced "{" in master.cf arguments', file, line);
      out.push(s.slice(i + 1, j).trim());
      i = j + 1;
    } else {
      let j = i;
      while (j < s.length && !/\s/.test(s[j]!)) j++;
      out.push(s.slice(i, j));
      i = j;
    }
  }
  return out;
}

/** master.cf: `service type private unpriv chroot wakeup maxproc command [args]`. */
export function parseMasterCf(text: string, file: string): MasterService[] {
  const services: MasterService[] = [];
  for (const l of logicalLines(text, file)) {
    const f = splitArgs(l.value, file, l.line);
    if (f.length < 8) throw new ConfigError(`expected at least 8 fields (service type private unpriv chroot wakeup maxproc command), found ${f.length}`, file, l.line);
    const [name, type, , , , , , command, ...rest] = f as [string, string, string, string, string, string, string, string, ...string[]];
    const overrides = new Map<string, string>();
    const args: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === '-o') {
        const kv = rest[++i];
        if (kv === undefined) throw new ConfigError('"-o" without name=value', file, l.line);
        const m = /^([A-Za-z0-9_.\-]+)\s*=\s*(.*)$/s.exec(kv);
        if (!m) throw new ConfigError(`bad "-o ${kv}": expected name=value`, file, l.line);
        overrides.set(m[1]!, m[2]!.trim());
      } else if (a.startsWith('-o') && a.includes('=')) {
        const m = /^-o([A-Za-z0-9_.\-]+)=(.*)$/s.exec(a);
        if (!m) throw new ConfigError(`bad "${a}"`, file, l.line);
        overrides.set(m[1]!, m[2]!);
      } else args.push(a);
    }
    services.push({ name, type, command, args, overrides, file, line: l.line });
  }
  return services;
}
