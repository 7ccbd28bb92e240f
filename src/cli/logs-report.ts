/**
 * @module cli/logs-report
 * `mxguard logs report [FILE...]`: pflogsumm's summary (same grand totals, same layout) plus
 * greylisting, policy services, SASL, TLS and postscreen; as text, JSON or one HTML file.
 * Options follow pflogsumm's names (docs/logs-report.md): `-h N` is pflogsumm's top-hosts count
 * here, so help is `--help` only for this command.
 *
 * Exit status: 0; 1 with --strict when some line was not understood; a bad option or an
 * unreadable file is reported by the caller's `run` wrapper. The work is done in a worker thread
 * with a capped heap (logs/report/worker.ts), which keeps memory bounded on any log.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { isatty } from 'node:tty';
import type { ReportJob } from '../logs/report/worker.js';
import { addInputOptions, inputOptions, StrictSink, type InputFlags } from './logs-common.js';
import { runInWorker, startReaderFor } from './logs-worker.js';
import { inputJob } from '../logs/worker-job.js';
import type { LogInputOptions } from '../logs/input.js';

type Run = (fn: () => number | Promise<number | void> | void) => Promise<void>;

interface ReportFlags extends InputFlags {
  readonly format: 'text' | 'json' | 'html';
  readonly output?: string;
  readonly topHosts?: number;
  readonly topUsers?: number;
  readonly detail?: number;
  readonly bounceDetail?: number;
  readonly deferralDetail?: number;
  readonly rejectDetail?: number;
  readonly smtpDetail?: number;
  readonly smtpdWarningDetail?: number;
  readonly ignoreCase?: boolean;
  readonly problemsFirst?: boolean;
  readonly quiet?: boolean;
  readonly smtpdStats?: boolean;
  readonly isoDateTime?: boolean;
  readonly verboseMsgDetail?: boolean;
  readonly rejAddFrom?: boolean;
  readonly verpMung?: number | true;
  readonly zeroFill?: boolean;
  readonly syslogName?: string[];
  readonly pflogsummCompat?: boolean;
}

/** A count option: a whole number, 0 or more. */
function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return Number(value);
}

/** --verp-mung's level: 2 folds more; 0 and 1 are the first level (pflogsumm's `--verp-mung` alone is 0). */
function verpLevel(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a level, 1 or 2 (--verp-mung=2)');
  return Number(value) > 1 ? 2 : 1;
}

/**
 * pflogsummArgv - the command line with pflogsumm's optional-value habit kept: `--verp-mung` takes
 * a level only when one follows (`--verp-mung 2`, `--verp-mung=2`), so that
 * `--verp-mung /var/log/mail.log` reads the file, as with pflogsumm, rather than taking its name
 * for a level.
 */
export function pflogsummArgv(argv: readonly string[]): string[] {
  // `node mxguard logs report …`: other commands have no --verp-mung and report it as unknown.
  if (argv[2] !== 'logs' || argv[3] !== 'report') return [...argv];
  return argv.map((a, i) => (a === '--verp-mung' && !/^\d+$/.test(argv[i + 1] ?? '') ? '--verp-mung=1' : a));
}

const collectNames = (value: string, prev: string[] | undefined): string[] => [...(prev ?? []), value];

/** configureReport - options and action of `logs report`. */
export function configureReport(cmd: Command, run: Run): void {
  cmd.description('summarise mail logs: pflogsumm\'s report (same grand totals) plus greylisting, policy services, SASL, TLS and postscreen')
    .argument('[files...]', 'log files, plain or gzip; - or none for standard input')
    // pflogsumm's -h N is the number of hosts: help is --help only here.
    .helpOption('--help', 'display help for command');
  addInputOptions(cmd)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'html']).default('text'))
    .option('-o, --output <file>', 'write the report to FILE (replaced atomically) instead of standard output')
    .option('-h, --top-hosts <n>', 'top N rows of host/domain tables (pflogsumm -h; 0 leaves them out)', count)
    .option('-u, --top-users <n>', 'top N rows of sender/recipient tables (pflogsumm -u; 0 leaves them out)', count)
    .option('--detail <n>', 'rows of every detail section and of the counts not set on their own (0: none)', count)
    .option('--bounce-detail <n>', 'rows of the bounce detail', count)
    .option('--deferral-detail <n>', 'rows of the deferral detail', count)
    .option('--reject-detail <n>', 'rows of the reject, reject warning, hold and discard details', count)
    .option('--smtp-detail <n>', 'rows of the smtp delivery failures', count)
    .option('--smtpd-warning-detail <n>', 'rows of the warnings', count)
    .option('-i, --ignore-case', 'lower-case whole addresses (default: the domain part only)')
    .option('--problems-first', 'deferrals, bounces, rejects and warnings right after the grand totals')
    .option('-q, --quiet', 'leave out sections that are empty')
    .option('--smtpd-stats', 'text: smtpd connection counts and times (JSON and HTML always have them)')
    .option('--iso-date-time', 'text: YYYY-MM-DD dates and HH:00-HH:00 hours')
    .option('--verbose-msg-detail', 'full reasons in detail sections, not shortened')
    .option('--rej-add-from', 'add the sender to client entries of the reject details')
    .option('--verp-mung [level]', 'fold VERP senders as pflogsumm does: numbers become ID; =2 also drops the encoded recipient', verpLevel)
    .option('--zero-fill', 'list every day seen in the per-day traffic table, even with nothing counted')
    .option('--syslog-name <name>', 'also take NAME/… programs as Postfix\'s (repeatable; postfix always is)', collectNames)
    .option('--pflogsumm-compat', 'count and group exactly as pflogsumm 1.1.5 (its program names only, no smtpd milter-reject, its deferral reasons; docs/logs-report.md)')
    .action((files: string[], flags: ReportFlags) => run(() => logsReport(files, flags)));
}

/**
 * Heap limits of the report's worker thread, MiB (docs/logs-report.md). What the tables hold is
 * capped well below the old generation's limit (collect.ts); the limit makes V8 collect garbage
 * before the heap grows far past what is alive, and a small young generation keeps the nursery
 * small: the whole process stays under 150 MB on any log (measured: 110-130 MB).
 */
const WORKER_HEAP_MB = 96;
const WORKER_YOUNG_MB = 8;

/** logsReport - runs the report (in a worker thread, see logs/report/worker.ts); the exit status. */
export async function logsReport(files: readonly string[], flags: ReportFlags): Promise<number> {
  if (flags.format === 'html' && !flags.output && isatty(1)) {
    throw new Error('--format html writes one HTML file: give -o FILE (or redirect standard output)');
  }
  // Time options are checked here, so that a bad one is reported before anything starts.
  const input = inputOptions(files, flags, new StrictSink(false));
  const html = flags.format === 'html';
  const opts = {
    // An HTML page with every address of a busy day would be unreadable: 50 rows unless asked.
    topHosts: flags.topHosts ?? (html && flags.detail === undefined ? 50 : undefined),
    topUsers: flags.topUsers ?? (html && flags.detail === undefined ? 50 : undefined),
    detail: flags.detail,
    bounceDetail: flags.bounceDetail,
    deferralDetail: flags.deferralDetail,
    rejectDetail: flags.rejectDetail,
    smtpDetail: flags.smtpDetail,
    smtpdWarningDetail: flags.smtpdWarningDetail,
    ignoreCase: flags.ignoreCase === true,
    problemsFirst: flags.problemsFirst === true,
    quiet: flags.quiet === true,
    smtpdStats: flags.smtpdStats === true,
    isoDateTime: flags.isoDateTime === true,
    verboseMsgDetail: flags.verboseMsgDetail === true,
    rejAddFrom: flags.rejAddFrom === true,
    verpMung: flags.verpMung === true ? 1 : flags.verpMung ?? 0,
    zeroFill: flags.zeroFill === true,
    syslogNames: flags.syslogName ?? [],
    pflogsummCompat: flags.pflogsummCompat === true,
    title: flags.day && input.since ? `Postfix log summaries for ${dayTitle(input.since)}` : undefined,
    lean: flags.format === 'text',
  };
  const job: ReportJob = {
    input: inputJob(input, flags.strict === true),
    opts,
    format: flags.format,
    output: flags.output,
  };
  return runWorker(job, input);
}

/** runWorker - the report in a worker thread with a capped heap; its exit status, or its error. */
async function runWorker(job: ReportJob, input: LogInputOptions): Promise<number> {
  const reader = startReaderFor(input);
  let code: number;
  try {
    code = await runInWorker<number>(new URL('../logs/report/worker.js', import.meta.url), { ...job, readerPort: reader?.port },
      { oldMb: WORKER_HEAP_MB, youngMb: WORKER_YOUNG_MB },
      `the report needed more than its ${WORKER_HEAP_MB} MB heap (please report this log's shape as a bug)`, reader ? [reader.port] : []);
  } catch (e) {
    // The reader's own failure (its heap limit) says more than what the report's worker saw of it.
    throw reader?.done() ?? e;
  }
  reader?.done();
  return code;
}

/** `Nov 27` (pflogsumm's -d heading: the day space-padded). */
function dayTitle(d: Date): string {
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  return `${mon} ${String(d.getDate()).padStart(2)}`;
}
