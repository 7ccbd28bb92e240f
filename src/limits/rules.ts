/**
 * @module limits/rules
 * The $mxguard_rate_limits rule syntax (docs/limits.md):
 *
 *   KEY METRIC LIMIT/WINDOW [LIMIT/WINDOW ...] [action=defer|reject] [window=sliding|fixed]
 *
 * KEY (whose counter): client_address, sasl_username, sender_address, sender_domain.
 * METRIC (what is counted): connections, messages, recipients, bytes, auth_failures.
 * WINDOW: a number with a unit s, m, h, d or w (`100/1h 500/1d`). Default action defer (a 4xx
 * reply), default window sliding. Rules are separated by commas or braces, or a new KEY word
 * starts the next one; an element that is an absolute path names a file of rules, one per
 * line, `#` comments. A bad rule is a ConfigError: Postfix refuses to start on a bad setting.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/types.js';

export const RULE_KEYS = ['client_address', 'sasl_username', 'sender_address', 'sender_domain'] as const;
export const RULE_METRICS = ['connections', 'messages', 'recipients', 'bytes', 'auth_failures'] as const;
export type RuleKey = (typeof RULE_KEYS)[number];
export type RuleMetric = (typeof RULE_METRICS)[number];

export interface RateWindow { readonly limit: number; readonly seconds: number; readonly text: string }

export interface RateRule {
  readonly key: RuleKey;
  readonly metric: RuleMetric;
  readonly windows: readonly RateWindow[];
  readonly action: 'defer' | 'reject';
  readonly window: 'sliding' | 'fixed';
  /** The rule as written, for log lines. */
  readonly text: string;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Metrics a key can be counted by: connections and AUTH failures happen before MAIL FROM. */
const BEFORE_MAIL: readonly RuleMetric[] = ['connections', 'auth_failures'];

/** parseRule - one rule from its words. */
export function parseRule(words: readonly string[], where = 'mxguard_rate_limits'): RateRule {
  const text = words.join(' ');
  const bad = (why: string): never => { throw new ConfigError(`${where}: ${why} in "${text}"`); };
  const [key, metric, ...rest] = words.map((w) => w.toLowerCase());
  if (!key || !(RULE_KEYS as readonly string[]).includes(key)) bad(`unknown key "${key ?? ''}" (expected ${RULE_KEYS.join(', ')})`);
  if (!metric || !(RULE_METRICS as readonly string[]).includes(metric)) bad(`unknown metric "${metric ?? ''}" (expected ${RULE_METRICS.join(', ')})`);
  if (BEFORE_MAIL.includes(metric as RuleMetric) && key !== 'client_address') bad(`${metric} can only be counted per client_address`);
  const windows: RateWindow[] = [];
  let action: RateRule['action'] = 'defer';
  let window: RateRule['window'] = 'sliding';
  for (const w of rest) {
    let m: RegExpExecArray | null;
    if ((m = /^action=(defer|reject)$/.exec(w))) action = m[1] as RateRule['action'];
    else if ((m = /^window=(sliding|fixed)$/.exec(w))) window = m[1] as RateRule['window'];
    else if ((m = /^(\d+)\/(\d+)([smhdw]?)$/.exec(w))) {
      const limit = Number(m[1]);
      const seconds = Number(m[2]) * UNITS[m[3] || 's']!;
      if (!Number.isSafeInteger(limit) || seconds <= 0) bad(`bad limit "${w}"`);
      windows.push({ limit, seconds, text: w });
    } else bad(`unknown word "${w}" (expected LIMIT/WINDOW such as 100/1h, action=defer|reject, window=sliding|fixed)`);
  }
  if (!windows.length) bad('no LIMIT/WINDOW');
  return { key: key as RuleKey, metric: metric as RuleMetric, windows, action, window, text };
}

/** splitRules - groups a word stream into rules: each KEY word starts a new rule. */
function splitRules(elements: readonly string[], where: string, out: RateRule[]): void {
  let cur: string[] = [];
  const end = () => { if (cur.length) out.push(parseRule(cur, where)); cur = []; };
  for (const el of elements) {
    const braced = /^\{(.*)\}$/s.exec(el.trim());
    const words = (braced ? braced[1]! : el).trim().split(/\s+/).filter(Boolean);
    if (braced) { end(); cur = words; end(); continue; }
    for (const w of words) {
      if ((RULE_KEYS as readonly string[]).includes(w.toLowerCase())) end();
      cur.push(w);
    }
  }
  end();
}

/** parseRules - the rules of a list value (elements from Config.list()). */
export function parseRules(elements: readonly string[], where = 'mxguard_rate_limits'): RateRule[] {
  const out: RateRule[] = [];
  const inline: string[] = [];
  for (const el of elements) {
    if (el.startsWith('/')) {
      let src: string;
      try { src = readFileSync(el, 'utf8'); } catch (e) { throw new ConfigError(`${where}: cannot read ${el}: ${(e as Error).message}`); }
      src.split('\n').forEach((line, i) => {
        const l = line.replace(/#.*/, '').trim();
        if (l) splitRules([l.replace(/,/g, ' ')], `${el}:${i + 1}`, out);
      });
    } else inline.push(el);
  }
  splitRules(inline, where, out);
  return out;
}

const cache = new WeakMap<Config, RateRule[]>();
/** rulesOf - the parsed $mxguard_rate_limits of a configuration (parsed once). */
export function rulesOf(cfg: Config): RateRule[] {
  let r = cache.get(cfg);
  if (!r) { r = parseRules(cfg.list('mxguard_rate_limits')); cache.set(cfg, r); }
  return r;
}

/** formatWindow - seconds as the shortest unit that divides them (3600 → 1h). */
export function formatWindow(seconds: number): string {
  for (const [u, n] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) if (seconds % n === 0) return `${seconds / n}${u}`;
  return `${seconds}s`;
}
