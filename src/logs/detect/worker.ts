/**
 * @module logs/detect/worker
 * `mxguard logs detect` reads and detects in a worker thread whose JavaScript heap is capped
 * (cli/logs-detect.ts gives it `resourceLimits`), as `logs report` does (logs/report/worker.ts):
 * the detectors' tables are capped by --max-keys, and under a heap limit V8 collects garbage before
 * the heap grows far past what is alive, so the process stays within its memory on any log.
 *
 * The worker answers with the findings, the input counters and the notes; the caller renders them
 * and writes the ban lists. Lines not understood go to standard error from here (--strict).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { StrictSink } from '../../cli/logs-strict.js';
import type { LogInputStats } from '../input.js';
import type { Finding } from './findings.js';
import { detect } from './index.js';
import type { DetectOptions } from './options.js';

/** What the worker is asked to do (structured-clonable). */
export interface DetectJob {
  readonly files: readonly string[];
  /** Epoch milliseconds. */
  readonly since?: number;
  readonly until?: number;
  readonly progress: boolean;
  readonly strict: boolean;
  readonly thread: boolean;
  /** Standard error of the process is a terminal (the worker's own is not). */
  readonly stderrTty: boolean;
  readonly opts: DetectOptions;
}

/** The worker's answer. */
export type DetectAnswer =
  | { readonly findings: Finding[]; readonly stats: LogInputStats; readonly notes: string[]; readonly notUnderstood: number }
  | { readonly error: { readonly message: string; readonly code?: string; readonly syscall?: string; readonly stack?: string } };

/** runDetectJob - one detection run, start to end. */
export async function runDetectJob(job: DetectJob): Promise<DetectAnswer> {
  if (job.stderrTty) Object.defineProperty(process.stderr, 'isTTY', { value: true });
  const strict = new StrictSink(job.strict);
  const r = await detect({
    files: job.files,
    since: job.since === undefined ? undefined : new Date(job.since),
    until: job.until === undefined ? undefined : new Date(job.until),
    progress: job.progress,
    onUnparsed: strict.add,
    thread: job.thread,
  }, job.opts);
  return { findings: r.findings, stats: r.stats, notes: r.notes, notUnderstood: strict.count };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  runDetectJob(workerData as DetectJob).then(
    (answer) => port.postMessage(answer),
    (e: unknown) => {
      const err = e as NodeJS.ErrnoException;
      port.postMessage({ error: { message: err?.message ?? String(e), code: err?.code, syscall: err?.syscall, stack: err?.stack } } satisfies DetectAnswer);
    },
  );
}
