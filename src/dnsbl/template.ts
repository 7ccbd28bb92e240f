/**
 * @module dnsbl/template
 * Reply templates of DNS lists (postconf(5) default_rbl_reply, rbl_reply_maps): `$name`,
 * `${name}`, `$(name)`, `$$`, `${name?text}`, `${name:text}` and `${name?{text1}:{text2}}`, as
 * Postfix's mac_expand() without recursion: a value is inserted as it is, after every character
 * not in $smtpd_expansion_filter became "_". Text inside a conditional is expanded in turn. An
 * unknown name makes the template bad (Postfix warns and falls back to default_rbl_reply).
 */

export type Lookup = (name: string) => string | undefined;

export class TemplateError extends Error {}

/** expandTemplate - the expanded text; throws TemplateError on an unknown name or bad syntax. */
export function expandTemplate(template: string, lookup: Lookup, allowed: (c: string) => boolean, depth = 0): string {
  if (depth > 20) throw new TemplateError('nesting too deep');
  const value = (name: string): string => {
    const v = lookup(name);
    if (v === undefined) throw new TemplateError(`unknown name "${name}"`);
    return [...v].map((c) => (allowed(c) ? c : '_')).join('');
  };
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '$') { out += c; i++; continue; }
    const n = template[i + 1];
    if (n === '$') { out += '$'; i += 2; continue; }
    if (n === '{' || n === '(') {
      const close = n === '{' ? '}' : ')';
      let level = 0;
      let j = i + 1;
      for (; j < template.length; j++) {
        if (template[j] === n) level++;
        else if (template[j] === close && --level === 0) break;
      }
      if (j >= template.length) throw new TemplateError(`unbalanced "${n}"`);
      const inner = template.slice(i + 2, j);
      const m = /^([A-Za-z0-9_]+)(?:([?:])([\s\S]*))?$/.exec(inner);
      if (!m) throw new TemplateError(`bad expression "$${n}${inner}${close}"`);
      const name = m[1]!;
      const op = m[2];
      const rest = m[3] ?? '';
      if (!op) out += value(name);
      else {
        const v = lookup(name);
        if (v === undefined) throw new TemplateError(`unknown name "${name}"`);
        const both = /^\s*\{([\s\S]*)\}\s*:\s*\{([\s\S]*)\}\s*$/.exec(rest);
        const strip = (s: string) => /^\s*\{([\s\S]*)\}\s*$/.exec(s)?.[1] ?? s;
        let chosen: string;
        if (op === '?') chosen = v !== '' ? strip(both ? both[1]! : rest) : (both ? both[2]! : '');
        else chosen = v === '' ? strip(rest) : '';
        out += expandTemplate(chosen, lookup, allowed, depth + 1);
      }
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
    if (!m) throw new TemplateError(`"$" not followed by a name at "${template.slice(i, i + 10)}"`);
    out += value(m[0]);
    i += 1 + m[0].length;
  }
  return out;
}

/**
 * parseExpansionFilter - the characters of $smtpd_expansion_filter, with C escapes
 * (`\t`, `\n`, `\r`, `\\`, `\ooo` octal) as Postfix reads them (unescape()).
 */
export function parseExpansionFilter(raw: string): (c: string) => boolean {
  const set = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\' || i + 1 >= raw.length) { set.add(c); continue; }
    const n = raw[i + 1]!;
    const oct = /^[0-7]{1,3}/.exec(raw.slice(i + 1));
    if (oct) { set.add(String.fromCharCode(parseInt(oct[0], 8))); i += oct[0].length; continue; }
    const map: Record<string, string> = { t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v', a: '\x07' };
    set.add(map[n] ?? n);
    i++;
  }
  return (c) => set.has(c);
}
