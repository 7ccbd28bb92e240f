/**
 * @module cli/config-cmd
 * `mxguard config`: the effective parameters, like postconf(1). `-n`: only those set in
 * main.cf; `-d`: defaults; `-x`: expand `$name`; names select parameters; `-M`: services.
 */
import { catalogue } from '../config/catalogue.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/types.js';
import { printWarnings, restrictionProblems } from './serve.js';

export interface ConfigCmdOptions { config?: string; n?: boolean; d?: boolean; x?: boolean; M?: boolean }

export function configCommand(names: string[], opts: ConfigCmdOptions): number {
  const loaded = loadConfig({ dir: opts.config });
  printWarnings(loaded);
  const cfg = loaded.config;
  if (opts.M) {
    for (const l of loaded.listeners) process.stdout.write(`${l.service} inet -> ${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port} smtpd\n`);
    return 0;
  }
  let list: string[];
  if (names.length) {
    for (const n of names) {
      if (!catalogue.has(n) && !cfg.isExplicit(n)) throw new ConfigError(`unknown parameter: ${n}`);
    }
    list = names;
  } else if (opts.n) list = cfg.explicitNames().sort();
  else list = [...catalogue.keys()].sort();
  for (const name of list) {
    const value = opts.d ? catalogue.get(name)?.default ?? '' : opts.x ? cfg.get(name) : cfg.raw(name) ?? '';
    process.stdout.write(value === '' ? `${name} =\n` : `${name} = ${value}\n`);
  }
  // Restriction lists are checked as the server would use them: unknown names and unreadable
  // tables are errors (the server would answer 451 4.3.5 to the requests that reach them).
  const problems = opts.d ? [] : restrictionProblems(loaded);
  for (const p of problems) process.stderr.write(`mxguard: ${p}\n`);
  return problems.some((p) => p.startsWith('error:')) ? 1 : 0;
}
