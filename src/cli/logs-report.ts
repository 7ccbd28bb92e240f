/**
 * @module cli/logs-report
 * `mxguard logs report`: placeholder until the report lands.
 */
import type { Command } from 'commander';
import { addInputOptions } from './logs-common.js';

type Run = (fn: () => number | Promise<number | void> | void) => Promise<void>;

/** configureReport - options and action of `logs report`. */
export function configureReport(cmd: Command, run: Run): void {
  addInputOptions(cmd.description('summarise mail logs (pflogsumm-compatible totals)').argument('[files...]', 'log files, plain or gzip; - or none for standard input'))
    .action(() => run(() => { throw new Error('logs report: not available yet'); }));
}
