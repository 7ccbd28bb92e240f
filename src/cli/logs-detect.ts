/**
 * @module cli/logs-detect
 * `mxguard logs detect [files...]`: findings of abuse in Postfix-format logs (Postfix's and
 * mxguard's), each with evidence lines and what to do; docs/logs-detect.md.
 *
 * Output, made for scripts:
 * - findings as text (or `--json`, an array) on standard output;
 * - with `--ban-output FORM`, the addresses to block in that form: into `--ban-file PATH` (findings
 *   stay on standard output), or on standard output when there is no --ban-file, and then the
 *   findings go to standard error, so `mxguard logs detect --ban-output nftables mail.log | nft -f -`
 *   works;
 * - notes (lines not understood, memory caps reached) on standard error.
 *
 * Exit status: 0 no findings; 1 findings (or, with --strict, lines not understood); 2 the command
 * could not run (bad option, unreadable file).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { BanFormat } from '../logs/detect/ban-output.js';
// Only the options here: the detectors, the address lists and the renderers are loaded when the
// command runs (every `mxguard logs …` command loads this module to register its options, and a
// report should not wait for the detection's modules).
import { DEFAULTS, detectOptions, parseDuration, type ThresholdFlags } from '../logs/detect/options.js';
import type { DetectAnswer, DetectJob } from '../logs/detect/worker.js';
import { runInWorker } from './logs-worker.js';
import { inputJob } from '../logs/worker-job.js';
import { addInputOptions, inputOptions, reportUnderstood, StrictSink, type InputFlags } from './logs-common.js';

type Run = (fn: () => number | Promise<number | void> | void) => Promise<void>;

interface DetectFlags extends InputFlags, ThresholdFlags {
  json?: boolean;
  limit?: string;
  banOutput?: BanFormat;
  banFile?: string;
  banTime?: string;
  banSet?: string;
  banTable?: string;
  banJail?: string;
  exclude?: string[];
  banPrivate?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const NFT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/** configureDetect - options and action of `logs detect`. */
export function configureDetect(cmd: Command, run: Run): void {
  addInputOptions(cmd
    .description('find abuse in mail logs: stolen logins, web scripts sending spam, AUTH floods, clients ignoring rejects, backscatter, broken DNS lists (exit 1 when something was found)')
    .argument('[files...]', 'log files, plain or gzip; - or none for standard input'))
    .option('--json', 'print the findings as a JSON array')
    .option('--limit <n>', 'show at most N findings of each kind as text; 0 shows all (JSON always has all)', '10')
    .option('--evidence <n>', 'evidence lines per finding', String(DEFAULTS.evidence))
    .option('--max-keys <n>', 'accounts, addresses, uids… each detector remembers (least recently seen forgotten first)', String(DEFAULTS.maxKeys))
    // SASL accounts
    .option('--account-networks <n>', 'a login used from N public networks (/16, IPv6 /32) within --account-window', String(DEFAULTS.accountNetworks))
    .option('--account-ips <n>', 'a login used from N public addresses within --account-window', String(DEFAULTS.accountIps))
    .option('--account-window <duration>', 'window of --account-networks and --account-ips', DEFAULTS.accountWindow)
    .option('--account-rate <n>', 'messages of one login in a clock hour that count as a burst', String(DEFAULTS.accountRate))
    .option('--account-factor <x>', '... and at least X times the login\'s median hour', String(DEFAULTS.accountFactor))
    // pickup
    .option('--pickup-rate <n/duration>', 'messages of one uid through pickup (sendmail)', DEFAULTS.pickupRate)
    .option('--web-uids <list>', 'uids of web servers, comma-separated', DEFAULTS.webUids)
    .option('--web-recipients <n>', 'distinct outside recipients of a web uid that make a finding without bounces', String(DEFAULTS.webRecipients))
    // AUTH
    .option('--auth-failures <n/duration>', 'failed AUTH attempts of one client address', DEFAULTS.authFailures)
    .option('--auth-network <n/duration>', 'failed AUTH attempts from one /24 (IPv6 /64), two addresses or more', DEFAULTS.authNetwork)
    .option('--auth-flood <n/duration>', 'sessions that failed or dropped AUTH, server-wide', DEFAULTS.authFlood)
    .option('--auth-flood-addresses <n>', '... from at least N addresses', String(DEFAULTS.authFloodAddresses))
    // rejects, bounces
    .option('--rejects <n/duration>', 'sessions with a 5xx reject of one client address', DEFAULTS.rejects)
    .option('--backscatter <n/duration>', 'bounces sent to senders in domains we do not host', DEFAULTS.backscatter)
    .option('--null-sender <n/duration>', 'incoming messages with the null sender from outside', DEFAULTS.nullSender)
    .option('--local-domain <domain>', 'a domain we host (repeatable; others are learned from the log)', collect)
    // DNS lists
    .option('--dnsbl-share <percent>', 'share of an hour\'s clients one DNS list lists to count as "answers for everyone"', String(DEFAULTS.dnsblShare))
    .option('--dnsbl-min-clients <n>', '... in hours with at least N clients', String(DEFAULTS.dnsblMinClients))
    .option('--dnsbl-silence <n>', 'missing listings (at the list\'s earlier rate) that make it "stopped answering"', String(DEFAULTS.dnsblSilence))
    .option('--dnsbl-errors <n>', 'lookup errors of one list', String(DEFAULTS.dnsblErrors))
    // bans
    .addOption(new Option('--ban-output <form>', 'also write the addresses to block: nftables (nft -f script), fail2ban (fail2ban-client commands), json').choices(['nftables', 'fail2ban', 'json']))
    .option('--ban-file <path>', 'write the --ban-output there (default: standard output, and the findings go to standard error)')
    .option('--ban-time <duration>', 'nftables: element timeout such as 1h or 7d; 0 for none', '1d')
    .option('--ban-table <name>', 'nftables: table (family inet)', 'mxguard')
    .option('--ban-set <name>', 'nftables: IPv4 set; the IPv6 set is NAME6', 'mxguard_detect')
    .option('--ban-jail <name>', 'fail2ban: the jail to ban in', 'postfix')
    .option('--exclude <cidr>', 'never list this address or network (repeatable: your own networks)', collect)
    .option('--ban-private', 'also list private, loopback and other internal addresses')
    .action((files: string[], flags: DetectFlags) => run(() => logsDetect(files, flags)));
}

/**
 * Heap limits of the detection's worker thread, MiB. The detectors' tables are capped by --max-keys
 * (10,000 keys each by default): about 20 MB on a usual log, but some 150 MB when every line brings
 * a new client and address (measured on a 1M-line log made so). The limit keeps V8 from letting the
 * heap grow far past what is alive; it is not meant to be reached.
 */
const WORKER_HEAP_MB = 256;
const WORKER_YOUNG_MB = 8;

/** logsDetect - runs the detection and writes the outputs; returns the exit status. */
export async function logsDetect(files: readonly string[], flags: DetectFlags): Promise<number> {
  const strict = new StrictSink(flags.strict === true);
  const [{ NetList }, { renderText }, { collectBans, renderBans }] = await Promise.all([
    import('../logs/detect/net.js'), import('../logs/detect/render.js'), import('../logs/detect/ban-output.js'),
  ]);
  let opts;
  let exclude;
  let banTime = 0;
  let input;
  try {
    opts = detectOptions(flags);
    exclude = new NetList(flags.exclude ?? []);
    if (flags.banTime !== undefined && flags.banTime.trim() !== '0') banTime = Math.round(parseDuration(flags.banTime, '--ban-time') / 1000);
    for (const [name, v] of [['--ban-table', flags.banTable], ['--ban-set', flags.banSet]] as const) {
      if (v !== undefined && !NFT_NAME.test(v)) throw new Error(`${name} ${v}: use letters, digits and _ (a letter first, at most 32)`);
    }
    if (flags.banJail !== undefined && !/^[A-Za-z0-9_.-]+$/.test(flags.banJail)) throw new Error(`--ban-jail ${flags.banJail}: not a jail name`);
    const limit = Number(flags.limit ?? 10);
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`--limit ${flags.limit}: expected a whole number`);
    input = inputOptions(files, flags, strict);
  } catch (e) {
    process.stderr.write(`mxguard: logs detect: ${(e as Error).message}\n`);
    return 2;
  }

  let result;
  try {
    const job: DetectJob = { input: inputJob(input, flags.strict === true), opts };
    // Input trouble comes back as an error with its system code, told apart from a bug below.
    result = await runInWorker<DetectAnswer>(new URL('../logs/detect/worker.js', import.meta.url), job,
      { oldMb: WORKER_HEAP_MB, youngMb: WORKER_YOUNG_MB },
      `the detection needed more than its ${WORKER_HEAP_MB} MB heap (lower --max-keys, or report this log's shape as a bug)`);
    strict.count += result.notUnderstood;
  } catch (e) {
    // Input trouble (no such file, a directory, a broken gzip) carries a system error code and is
    // one line; anything else is a bug and keeps its stack (run() prints it, exit 2).
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string') {
      process.stderr.write(`mxguard: logs detect: ${err.message}\n`);
      return 2;
    }
    throw e;
  }

  const bansToStdout = flags.banOutput !== undefined && flags.banFile === undefined;
  const findingsOut = bansToStdout ? process.stderr : process.stdout;
  findingsOut.write(flags.json ? `${JSON.stringify(result.findings, null, 2)}\n` : renderText(result.findings, result.stats, Number(flags.limit ?? 10)));

  if (flags.banOutput) {
    const bans = collectBans(result.findings, { exclude, includePrivate: flags.banPrivate === true });
    const text = renderBans(flags.banOutput, bans, {
      table: flags.banTable ?? 'mxguard', set: flags.banSet ?? 'mxguard_detect', timeoutSeconds: banTime, jail: flags.banJail ?? 'postfix',
    });
    if (flags.banFile !== undefined) {
      try {
        writeFileSync(flags.banFile, text);
      } catch (e) {
        process.stderr.write(`mxguard: logs detect: ${(e as Error).message}\n`);
        return 2;
      }
    } else {
      process.stdout.write(text);
    }
  }
  for (const n of result.notes) process.stderr.write(`mxguard: ${n}\n`);
  const strictStatus = reportUnderstood(result.stats, strict, flags);
  return result.findings.length > 0 || strictStatus !== 0 ? 1 : 0;
}
