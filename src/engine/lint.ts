/**
 * @module engine/lint
 * Static checks of the restriction lists, for `mxguard config` (errors) and start-up (warnings):
 * unknown restriction names, missing arguments, restriction classes without a definition,
 * tables that cannot be opened, and restrictions mxguard knows but cannot evaluate yet. At run
 * time the same mistakes answer `451 4.3.5 Server configuration error`, as in Postfix.
 */
import type { Config } from '../config/config.js';
import { parseList } from '../config/values.js';
import { RESTRICTION_LISTS } from './evaluate.js';
import { engineFacts } from './facts.js';
import { isTablePattern } from './patterns.js';
import { restrictions } from './restrictions/index.js';

export interface LintProblem {
  readonly level: 'error' | 'warning';
  /** The parameter (list or class) the problem is in. */
  readonly param: string;
  readonly message: string;
}

/** Lists without a default access check for bare type:table tokens. */
const NO_DEFAULT_ACL = new Set(['smtpd_data_restrictions', 'smtpd_end_of_data_restrictions']);

export function lintRestrictions(cfg: Config): LintProblem[] {
  const out: LintProblem[] = [];
  const facts = engineFacts(cfg);
  const classes = new Set(cfg.list('smtpd_restriction_classes'));
  const openTable = (param: string, spec: string) => {
    try { facts.table(spec); } catch (e) { out.push({ level: 'error', param, message: `cannot open table ${spec}: ${(e as Error).message}` }); }
  };
  const scan = (param: string, tokens: readonly string[]) => {
    for (let i = 0; i < tokens.length;) {
      const token = tokens[i]!;
      const name = token.toLowerCase();
      i += 1;
      if (name === 'warn_if_reject') continue;
      if (isTablePattern(token)) {
        if (NO_DEFAULT_ACL.has(param)) out.push({ level: 'error', param, message: `bare table "${token}" needs a check_*_access before it in this list` });
        else openTable(param, token);
        continue;
      }
      const def = restrictions.get(name);
      if (def) {
        const args = tokens.slice(i, i + def.args);
        i += def.args;
        if (args.length < def.args) { out.push({ level: 'error', param, message: `restriction ${name} needs ${def.args} argument${def.args === 1 ? '' : 's'}` }); continue; }
        if (def.unavailable) out.push({ level: 'warning', param, message: `restriction ${name} is not evaluated: ${def.unavailable}` });
        else for (const a of args) if (isTablePattern(a)) openTable(param, a);
        continue;
      }
      if (classes.has(token)) {
        if (!cfg.isExplicit(token) || cfg.get(token).trim() === '') out.push({ level: 'error', param, message: `restriction class \`${token}' needs a definition` });
        continue;
      }
      out.push({ level: 'error', param, message: `unknown smtpd restriction: "${token}"` });
    }
  };
  for (const list of RESTRICTION_LISTS) {
    try { scan(list, cfg.list(list)); } catch (e) { out.push({ level: 'error', param: list, message: (e as Error).message }); }
  }
  for (const c of classes) {
    if (!cfg.isExplicit(c)) continue;
    try { scan(c, parseList(cfg.get(c))); } catch (e) { out.push({ level: 'error', param: c, message: (e as Error).message }); }
  }
  return out;
}
