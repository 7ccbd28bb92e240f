/**
 * @module cli/logs-worker
 * Runs a `logs` command's work in a worker thread with a capped JavaScript heap (report, detect):
 * under a heap limit V8 collects garbage before the heap grows far past what is alive, so memory
 * stays bounded on any log. Standard input, when the job reads it, is piped to the worker; the
 * worker writes to standard error itself (Node forwards it) and posts one answer.
 */
import { Worker } from 'node:worker_threads';

export interface HeapLimits {
  /** Old generation, MiB. */
  readonly oldMb: number;
  /** Young generation, MiB. */
  readonly youngMb: number;
}

/**
 * runInWorker - the answer the worker at `url` posts for `job`; rejects with the worker's error,
 * or with `outOfMemory` when the heap limit was reached.
 */
export function runInWorker<A>(url: URL, job: { readonly files: readonly string[] }, limits: HeapLimits, outOfMemory: string): Promise<A> {
  // Standard input is the process's: a worker reads it only through the stream it is given.
  const stdin = job.files.length === 0 || job.files.includes('-');
  const worker = new Worker(url, {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: limits.oldMb, maxYoungGenerationSizeMb: limits.youngMb },
    stdin,
  });
  if (stdin && worker.stdin) process.stdin.pipe(worker.stdin);
  return new Promise((resolve, reject) => {
    let answer: { value: A } | undefined;
    let failed: Error | undefined;
    worker.on('message', (m: A) => { answer = { value: m }; });
    worker.on('error', (e: NodeJS.ErrnoException) => {
      failed = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new Error(outOfMemory) : e;
    });
    worker.on('exit', () => {
      if (failed) reject(failed);
      else if (answer) resolve(answer.value);
      else reject(new Error('the worker stopped without an answer'));
    });
  });
}
