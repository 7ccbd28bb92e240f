/**
 * @module cli/logs
 * `mxguard logs trace|report|detect`: reading Postfix-format mail logs (Postfix's and mxguard's).
 * `trace <ID|address|client-ip|<message-id>> FILE...` prints the lines of the matching message(s)
 * in order, then a summary; exit status 0 when something matched, 1 when nothing did.
 */
import type { Command } from 'commander';
import type { TraceAnswer, TraceJob } from '../logs/trace-worker.js';
import { inputJob } from '../logs/worker-job.js';
import { runInWorker } from './logs-worker.js';
import { addInputOptions, inputOptions, reportUnderstood, StrictSink, type InputFlags } from './logs-common.js';
import { configureDetect } from './logs-detect.js';
import { configureReport } from './logs-report.js';

type Run = (fn: () => number | Promise<number | void> | void) => Promise<void>;

/**
 * Heap limits of the trace's worker thread, MiB (logs/trace-worker). What a trace keeps is its ring
 * of recent lines (about 40 MB) and the lines of the messages it follows; the limit makes V8
 * collect before the heap grows far past that.
 */
const TRACE_HEAP_MB = 128;
const TRACE_YOUNG_MB = 8;

/** logsTrace - runs one trace (in a worker thread with a capped heap) and writes it to standard output. */
export async function logsTrace(query: string, files: readonly string[], flags: InputFlags = {}): Promise<number> {
  const strict = new StrictSink(flags.strict === true);
  // Loaded here: `logs report` and `logs detect` need none of it.
  const { classifyQuery, formatLine } = await import('../logs/trace.js');
  const input = inputOptions(files, flags, strict);
  const job: TraceJob = { input: inputJob(input, flags.strict === true), query: classifyQuery(query), fast: flags.strict !== true };
  // An error (a missing file) comes back rebuilt, for the command line to tell it from a bug.
  const answer = await runInWorker<TraceAnswer>(new URL('../logs/trace-worker.js', import.meta.url), job,
    { oldMb: TRACE_HEAP_MB, youngMb: TRACE_YOUNG_MB },
    `the trace needed more than its ${TRACE_HEAP_MB} MB heap: it keeps every line of the messages it follows (narrow the time with --since/--until)`);
  const r = answer.result;
  strict.count += answer.notUnderstood;
  const out: string[] = r.lines.map((l) => formatLine(l, r.stats.files.length > 1));
  out.push('', 'Summary:', ...r.summary.map((s) => `  ${s}`));
  process.stdout.write(`${out.join('\n')}\n`);
  const status = reportUnderstood(r.stats, strict, flags);
  return r.lines.length > 0 ? status : 1;
}

/** registerLogsCommand - adds `logs trace`, `logs report` and `logs detect` to the program. */
export function registerLogsCommand(program: Command, run: Run): void {
  const logs = program.command('logs').description('read Postfix-format mail logs (Postfix\'s and mxguard\'s)');
  addInputOptions(logs.command('trace')
    .description('follow one message through the logs (content-filter hops and bounces included) and explain what happened (exit 1 if nothing matched)')
    .argument('<query>', 'queue id, address, client IP, or <message-id>')
    .argument('[files...]', 'log files, plain or gzip, in any order; - or none for standard input'))
    .action((query: string, files: string[], flags: InputFlags) => run(() => logsTrace(query, files, flags)));
  configureReport(logs.command('report'), run);
  configureDetect(logs.command('detect'), run);
}
