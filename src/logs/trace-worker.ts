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
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { trace, type TraceQuery, type TraceResult } from './trace.js';
import { errorData, openInput, type ErrorData, type InputJob } from './worker-job.js';

/** What the worker is asked to do (structured-clonable). */
export interface TraceJob {
  readonly input: InputJob;
  readonly query: TraceQuery;
  /** The queue-id fast path (off under --strict, which must look at every line). */
  readonly fast: boolean;
}

/** The worker's answer. */
export type TraceAnswer =
  | { readonly result: TraceResult; readonly notUnderstood: number }
  | { readonly error: ErrorData };

/** runTraceJob - one trace, start to end. */
export async function runTraceJob(job: TraceJob): Promise<TraceAnswer> {
  const { input, strict } = openInput(job.input);
  const result = await trace(job.query, input, { fast: job.fast });
  return { result, notUnderstood: strict.count };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  runTraceJob(workerData as TraceJob).then(
    (answer) => port.postMessage(answer),
    (e: unknown) => port.postMessage({ error: errorData(e) } satisfies TraceAnswer),
  );
}
