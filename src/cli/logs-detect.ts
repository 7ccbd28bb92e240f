/**
 * @module cli/logs-detect
 * `mxguard logs detect`: placeholder until detection lands.
 */
import type { Command } from 'commander';
import { addInputOptions } from './logs-common.js';

type Run = (fn: () => number | Promise<number | void> | void) => Promise<void>;

/** configureDetect - options and action of `logs detect`. */
export function configureDetect(cmd: Command, run: Run): void {
  addInputOptions(cmd.description('find abuse in mail logs').argument('[files...]', 'log files, plain or gzip; - or none for standard input'))
    .action(() => run(() => { throw new Error('logs detect: not available yet'); }));
}
