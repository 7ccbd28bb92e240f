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
import type { LogInputStats } from '../input.js';
import type { Finding } from './findings.js';
import { detect } from './index.js';
import type { DetectOptions } from './options.js';
import { answerParent, openInput, type InputJob } from '../worker-job.js';

/** What the worker is asked to do (structured-clonable). */
export interface DetectJob {
  readonly input: InputJob;
  readonly opts: DetectOptions;
}

/** The worker's answer. */
export interface DetectAnswer {
  readonly findings: Finding[];
  readonly stats: LogInputStats;
  readonly notes: string[];
  readonly notUnderstood: number;
}

/** runDetectJob - one detection run, start to end. */
export async function runDetectJob(job: DetectJob): Promise<DetectAnswer> {
  const { input, strict } = openInput(job.input);
  const r = await detect(input, job.opts);
  return { findings: r.findings, stats: r.stats, notes: r.notes, notUnderstood: strict.count };
}

answerParent(runDetectJob);
