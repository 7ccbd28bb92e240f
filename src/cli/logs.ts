/**
 * @module cli/logs
 * `mxguard logs trace <ID|address|client-ip|<message-id>> FILE...`: prints the lines of the matching
 * message(s) in order, then a summary. Exit status 0 when something matched, 1 when nothing did.
 */
import type { Command } from 'commander';
import { classifyQuery, formatLine, trace } from '../logs/trace.js';
import { configureDetect } from './logs-detect.js';
import { configureReport } from './logs-report.js';

type Run = (fn: () => number | Promise<number | void> | void) => Promise<void>;

/** logsTrace - runs one trace and writes it to standard output. */
export async function logsTrace(query: string, files: readonly string[]): Promise<number> {
  const paths = files.length > 0 ? files : ['-'];
  const r = await trace(classifyQuery(query), paths);
  const out: string[] = r.lines.map((l) => formatLine(l, paths.length > 1));
  out.push('', 'Summary:', ...r.summary.map((s) => `  ${s}`));
  process.stdout.write(`${out.join('\n')}\n`);
  if (r.stats.unparsed > 0) {
    process.stderr.write(`mxguard: ${r.stats.unparsed} of ${r.stats.lines} lines were not in Postfix log format and were skipped\n`);
  }
  return r.lines.length > 0 ? 0 : 1;
}

/** registerLogsCommand - adds `logs trace`, `logs report` and `logs detect` to the program. */
export function registerLogsCommand(program: Command, run: Run): void {
  const logs = program.command('logs').description('read Postfix-format mail logs');
  logs.command('trace')
    .description('follow one message through the logs (content-filter hops and bounces included) and explain what happened (exit 1 if nothing matched)')
    .argument('<query>', 'queue id, address, client IP, or <message-id>')
    .argument('[files...]', 'log files, plain or gzip; - or none for standard input')
    .action((query: string, files: string[]) => run(() => logsTrace(query, files)));
  configureReport(logs.command('report'), run);
  configureDetect(logs.command('detect'), run);
}
