/**
 * @module cli/logs-strict
 * Lines that were not understood, for every `mxguard logs` command: counted, listed on standard
 * error with --strict, and the closing note. Apart from cli/logs-common (which needs commander)
 * so that the commands' worker threads load little.
 */
import type { LogInputStats } from '../logs/input.js';

/** Collects not-understood lines for --strict, writing them as they come (memory stays flat). */
export class StrictSink {
  count = 0;
  constructor(private readonly enabled: boolean) {}
  readonly add = (raw: string, file: string, lineNo: number, why = 'not in Postfix log format'): void => {
    this.count++;
    if (this.enabled) process.stderr.write(`${file}:${lineNo}: ${why}: ${raw.length > 300 ? `${raw.slice(0, 300)}…` : raw}\n`);
  };
}

/** reportUnderstood - the closing note on standard error; the exit status --strict asks for. */
export function reportUnderstood(stats: LogInputStats, strict: StrictSink, flags: { readonly strict?: boolean }, extraNotUnderstood = 0): number {
  const bad = strict.count + extraNotUnderstood;
  if (bad > 0 && !flags.strict) {
    process.stderr.write(`mxguard: ${bad} of ${stats.lines} lines were not understood and were skipped (--strict lists them)\n`);
  }
  if (stats.lines === 0) process.stderr.write('mxguard: the input was empty\n');
  return flags.strict && bad > 0 ? 1 : 0;
}
