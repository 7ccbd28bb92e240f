/**
 * @module config/values
 * Typed readings of parameter values, with Postfix's syntax: booleans yes/no, time values with
 * an optional unit (s, m, h, d, w), sizes in bytes, lists separated by commas and/or whitespace.
 */
import type { ParamDef } from './types.js';

const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export function parseBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (s === 'yes' || s === 'true' || s === 'on' || s === '1') return true;
  if (s === 'no' || s === 'false' || s === 'off' || s === '0') return false;
  return undefined;
}

/** Seconds; `unit` applies to a bare number (postconf(5) "Time units"). */
export function parseTime(v: string, unit: string = 's'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(v);
  if (!m) return undefined;
  return Number(m[1]) * TIME_UNITS[(m[2] || unit).toLowerCase()]!;
}

export function parseInteger(v: string): number | undefined {
  if (!/^\s*-?\d+\s*$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Comma-or-whitespace separated; `{ … }` keeps an element with spaces together (Postfix 3.0+). */
export function parseList(v: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    while (i < v.length && /[\s,]/.test(v[i]!)) i++;
    if (i >= v.length) break;
    let j = i; let depth = 0;
    for (; j < v.length; j++) {
      const c = v[j]!;
      if (c === '{') depth++;
      else if (c === '}') depth--;
      else if (depth === 0 && /[\s,]/.test(c)) break;
    }
    out.push(v.slice(i, j));
    i = j;
  }
  return out;
}

/** Checks a value against its declaration; returns an error message or undefined. */
export function checkValue(def: ParamDef, v: string): string | undefined {
  const range = (n: number, what: string) => {
    if (def.min !== undefined && n < def.min) return `${what} must be at least ${def.min}`;
    if (def.max !== undefined && n > def.max) return `${what} must be at most ${def.max}`;
    return undefined;
  };
  switch (def.type) {
    case 'bool': return parseBool(v) === undefined ? `bad boolean value "${v}" (use yes or no)` : undefined;
    case 'int': case 'size': {
      const n = parseInteger(v);
      return n === undefined ? `bad numerical value "${v}"` : range(n, 'value');
    }
    case 'time': {
      const n = parseTime(v, def.unit);
      return n === undefined ? `bad time value "${v}" (a number with an optional unit s, m, h, d or w)` : range(n, 'time (in seconds)');
    }
    case 'choice': {
      const s = v.trim().toLowerCase().replace(/\s*,\s*/g, ', ');
      return def.choices!.includes(s) ? undefined : `bad value "${v}" (allowed: ${def.choices!.map((c) => c || '(empty)').join(', ')})`;
    }
    case 'string': case 'list': return undefined;
  }
}
