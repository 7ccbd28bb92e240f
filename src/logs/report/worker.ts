/**
 * @module logs/report/worker
 * `mxguard logs report` runs in a worker thread whose JavaScript heap is capped
 * (cli/logs-report.ts gives it `resourceLimits`). The tables of a report are bounded by their caps
 * (collect.ts), but how far V8 lets the heap grow before collecting garbage is its own choice: in
 * the main thread up to about four times what is alive. Under a heap limit V8 collects early, so
 * the process stays under its memory target on any log, at little cost in speed.
 *
 * The worker reads the logs, renders the report and writes it itself (to the file, or straight to
 * standard output's file descriptor), then posts its exit status; it writes the progress bar, the
 * --strict listing and the closing note to standard error, which Node forwards to the process.
 */
import type { MessagePort } from 'node:worker_threads';
import { reportUnderstood } from '../../cli/logs-strict.js';
import { answerParent, openInput, type InputJob } from '../worker-job.js';
import { collectReport } from './collect.js';
import type { ReportOptions } from './model.js';
import { FdOut, FileOut, type Out } from './output.js';
import { writeText } from './text.js';

/** What the worker is asked to do (structured-clonable). */
export interface ReportJob {
  readonly input: InputJob;
  readonly opts: ReportOptions;
  readonly format: 'text' | 'json' | 'html';
  readonly output?: string;
  /** A reader thread the main thread started for these files (LogInputOptions.readerPort). */
  readonly readerPort?: MessagePort;
}

/**
 * writeJson - the report object as JSON, one top-level field per line (each field is stringified
 * on its own: the whole document is never one string in memory).
 */
function writeJson(data: object, write: (s: string) => void): void {
  const entries = Object.entries(data).filter(([, v]) => v !== undefined);
  write('{\n');
  entries.forEach(([k, v], i) => write(`${JSON.stringify(k)}: ${JSON.stringify(v)}${i < entries.length - 1 ? ',' : ''}\n`));
  write('}\n');
}

/** runJob - one report, start to end; the exit status. */
export async function runJob(job: ReportJob): Promise<number> {
  const { input, strict } = openInput(job.input);
  const { data, stats } = await collectReport({ ...input, readerPort: job.readerPort }, job.opts, (l) => strict.add(l.raw, l.file, l.lineNo, 'not recognised'));
  const out: Out = job.output ? FileOut.create(job.output) : new FdOut(1);
  try {
    if (job.format === 'json') writeJson((await import('./limit.js')).limitData(data, job.opts), out.write);
    else if (job.format === 'html') out.write((await import('./html.js')).renderHtml(data, job.opts));
    else writeText(data, job.opts, out.write);
    out.close();
  } catch (e) {
    out.abort();
    throw e;
  }
  return reportUnderstood(stats, strict, job.input);
}

answerParent(runJob);
