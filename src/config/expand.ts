/**
 * @module config/expand
 * `$name` expansion as postconf(5) defines it: `$name`, `${name}`, `$(name)`, `$$`,
 * `${name?value}` (value when name is non-empty), `${name:value}` (value when name is empty),
 * and `${name?{value1}:{value2}}` (Postfix 3.0+).
 */
import { ConfigError } from './types.js';

export type RawLookup = (name: string) => string | undefined;

const MAX_DEPTH = 100;

export function expand(value: string, lookup: RawLookup, depth = 0, trail: string[] = []): string {
  if (!value.includes('$')) return value;
  if (depth > MAX_DEPTH) throw new ConfigError(`parameter expansion too deep (loop?): ${trail.join(' -> ')}`);
  const get = (name: string): string => {
    if (trail.includes(name)) throw new ConfigError(`recursive parameter expansion: ${[...trail, name].join(' -> ')}`);
    const raw = lookup(name);
    return raw === undefined ? '' : expand(raw, lookup, depth + 1, [...trail, name]);
  };
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c !== '$') { out += c; i++; continue; }
    const n = value[i + 1];
    if (n === '$') { out += '$'; i += 2; continue; }
    if (n === '{' || n === '(') {
      const close = n === '{' ? '}' : ')';
      // find the matching close, honouring nested braces
      let depthB = 0; let j = i + 1;
      for (; j < value.length; j++) {
        if (value[j] === n) depthB++;
        else if (value[j] === close && --depthB === 0) break;
      }
      if (j >= value.length) throw new ConfigError(`unbalanced "${n}" in "${value}"`);
      const inner = value.slice(i + 2, j);
      const m = /^([A-Za-z0-9_.\-]+)(?:([?:])([\s\S]*))?$/.exec(inner);
      if (!m) throw new ConfigError(`bad expression "$${n}${inner}${close}"`);
      const name = m[1]!; const op = m[2]; const rest = m[3] ?? '';
      if (!op) out += get(name);
      else {
        const v = get(name);
        let whenSet = rest; let whenUnset = '';
        const both = /^\s*\{([\s\S]*)\}\s*:\s*\{([\s\S]*)\}\s*$/.exec(rest);
        if (op === '?' && both) { whenSet = both[1]!; whenUnset = both[2]!; }
        const strip = (s: string) => { const b = /^\s*\{([\s\S]*)\}\s*$/.exec(s); return b ? b[1]! : s; };
        const chosen = op === '?' ? (v !== '' ? strip(whenSet) : strip(whenUnset)) : (v === '' ? strip(rest) : '');
        out += expand(chosen, lookup, depth + 1, trail);
      }
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_]+/.exec(value.slice(i + 1));
    if (!m) { out += '$'; i++; continue; }
    out += get(m[0]);
    i += 1 + m[0].length;
  }
  return out;
}
