/**
 * @module logs/trace-worker
 * `mxguard logs trace` runs in a worker thread whose JavaScript heap is capped (cli/logs.ts gives
 * it `resourceLimits`), as `logs report` and `logs detect` do. The queue-id trace keeps a ring of
 * recent raw lines (logs/trace: some 40 MB of read chunks); in the main thread V8 let garbage pile
 * up to 250-325 MB of RSS on long logs before collecting it. Under a heap limit it collects early:
 * about 150 MB, for some 0.1 s more on a 1M-line log.
 *
 * The worker answers with the trace (its lines and summary) and the count of lines not
 * understood; the caller prints them. --strict lists those lines on standard error from here.
 */
import { trace, type TraceQuery, type TraceResult } from './trace.js';
import { answerParent, openInput, type InputJob } from './worker-job.js';

/** What the worker is asked to do (structured-clonable). */
export interface TraceJob {
  readonly input: InputJob;
  readonly query: TraceQuery;
  /** The queue-id fast path (off under --strict, which must look at every line). */
  readonly fast: boolean;
}

/** The worker's answer. */
export interface TraceAnswer {
  readonly result: TraceResult;
  readonly notUnderstood: number;
}

/** runTraceJob - one trace, start to end. */
export async function runTraceJob(job: TraceJob): Promise<TraceAnswer> {
  const { input, strict } = openInput(job.input);
  const result = await trace(job.query, input, { fast: job.fast });
  return { result, notUnderstood: strict.count };
}

answerParent(runTraceJob);
