/**
 * @module cli/logs-common
 * Options every `mxguard logs` command shares: the files, the time range (pflogsumm's
 * `-d today|yesterday`, plus `--since`/`--until`), `--strict`, and the progress bar; and the
 * closing message about lines that were not understood.
 */
import { Option, type Command } from 'commander';
import { dayRange, parseTimeOption, type LogInputOptions } from '../logs/input.js';
import { StrictSink } from './logs-strict.js';

export { reportUnderstood, StrictSink } from './logs-strict.js';

/** The shared options as commander hands them over. */
export interface InputFlags {
  readonly day?: 'today' | 'yesterday';
  readonly since?: string;
  readonly until?: string;
  readonly strict?: boolean;
  readonly progress?: boolean;
  /** '1' or '2' (--threads). */
  readonly threads?: string;
}

/** addInputOptions - adds the shared options to a `logs` subcommand. */
export function addInputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-d, --day <day>', 'only lines of that day (local time), as pflogsumm -d').choices(['today', 'yesterday']))
    .option('--since <time>', 'only lines at or after TIME: YYYY-MM-DD[THH:MM[:SS]] (local), ISO 8601 with zone, or -N{s,m,h,d}')
    .option('--until <time>', 'only lines before TIME (same forms as --since)')
    .option('--strict', 'list every line that was not understood on standard error, and exit 1 if there was one')
    .option('--no-progress', 'no progress bar (it is only drawn when standard error is a terminal)')
    .addOption(new Option('--threads <n>', 'threads: 2 reads and scans files in a thread of its own (standard input: always 1)').choices(['1', '2']).default('2'));
}

/** inputOptions - the LogInputOptions of the shared flags; throws a clear error on a bad time. */
export function inputOptions(files: readonly string[], flags: InputFlags, strict: StrictSink, now = new Date()): LogInputOptions {
  let since = flags.since === undefined ? undefined : parseTimeOption(flags.since, now);
  let until = flags.until === undefined ? undefined : parseTimeOption(flags.until, now);
  if (flags.day) {
    const r = dayRange(flags.day, now);
    since = since && since > r.since ? since : r.since;
    until = until && until < r.until ? until : r.until;
  }
  if (since && until && since >= until) throw new Error(`--since ${since.toISOString()} is not before --until ${until.toISOString()}`);
  return { files, since, until, progress: flags.progress !== false, onUnparsed: strict.add, thread: flags.threads !== '1' };
}
