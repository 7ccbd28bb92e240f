/**
 * @module cli/logs-worker
 * Runs a `logs` command's work in a worker thread with a capped JavaScript heap (report, detect):
 * under a heap limit V8 collects garbage before the heap grows far past what is alive, so memory
 * stays bounded on any log. The worker reads standard input itself when the job needs it, writes
 * to standard error itself (Node forwards it) and posts one answer.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { canThread, readerJob, startReader } from '../logs/input-thread.js';
import { rebuildError, type WorkerAnswer } from '../logs/worker-job.js';
import type { LogInputOptions } from '../logs/input.js';

export interface HeapLimits {
  /** Old generation, MiB. */
  readonly oldMb: number;
  /** Young generation, MiB. */
  readonly youngMb: number;
}

/**
 * runInWorker - the result the worker at `url` answers for `job` (logs/worker-job answerParent);
 * rejects with the error that stopped the worker, rebuilt so that the command line still tells a
 * system error (a missing file: one line) from a bug, or with `outOfMemory` when the heap limit
 * was reached.
 */
export function runInWorker<A>(
  url: URL, job: unknown, limits: HeapLimits, outOfMemory: string, transferList: readonly MessagePort[] = [],
): Promise<A> {
  // A worker reads standard input itself (logs/input), from file descriptor 0.
  const worker = new Worker(url, {
    workerData: job,
    transferList: [...transferList],
    resourceLimits: { maxOldGenerationSizeMb: limits.oldMb, maxYoungGenerationSizeMb: limits.youngMb },
  });
  return new Promise((resolve, reject) => {
    let answer: WorkerAnswer<A> | undefined;
    let failed: Error | undefined;
    worker.on('message', (m: WorkerAnswer<A>) => { answer = m; });
    worker.on('error', (e: NodeJS.ErrnoException) => {
      failed = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new Error(outOfMemory) : e;
    });
    worker.on('exit', () => {
      if (failed) reject(failed);
      else if (!answer) reject(new Error('the worker stopped without an answer'));
      else if ('ok' in answer) resolve(answer.ok);
      else reject(rebuildError(answer.error));
    });
  });
}

/**
 * startReaderFor - when `input` is read in a thread (--threads 2 on a machine with two CPUs), that
 * thread, started now so that it starts while the command's worker does: the port to hand that
 * worker, and a function that ends the reader (call it when the worker is done). Undefined: the
 * worker reads itself.
 */
export function startReaderFor(input: LogInputOptions): { port: MessagePort; done: () => Error | undefined } | undefined {
  if (input.thread !== true || !canThread(input)) return undefined;
  const { port1, port2 } = new MessageChannel();
  const reader = startReader(readerJob(input), port1);
  let failure: Error | undefined;
  // The consumer sees the reader's end as its port closing; the reason is kept for the message.
  reader.on('error', (e: NodeJS.ErrnoException) => {
    failure = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new Error('the log reader needed more than its heap (please report this log\'s shape as a bug)') : e;
  });
  return {
    port: port2,
    done: () => {
      void reader.terminate();
      return failure;
    },
  };
}
