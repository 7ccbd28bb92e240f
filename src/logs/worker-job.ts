/**
 * @module logs/worker-job
 * What crosses into and out of the worker threads of the `logs` commands (report, detect, the log
 * reader), in one place:
 *
 * - the input half of a job: the LogInputOptions a command's main thread settled on, as
 *   structured-clonable data (`inputJob`), and back into options on the worker's side (`openInput`,
 *   which also gives the worker its StrictSink and the terminal flag of standard error);
 * - an error, as data (`errorData`) and back (`rebuildError`): code, syscall and path survive, so
 *   the command line still tells a missing file (one line) from a bug (a stack trace);
 * - a worker's answer (`answerParent`: its result, or the error that stopped it), which the main
 *   thread's cli/logs-worker runInWorker turns back into a result or a rejection.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { StrictSink } from '../cli/logs-strict.js';
import type { LogInputOptions } from './input.js';

/** The input half of a worker's job (structured-clonable). */
export interface InputJob {
  readonly files: readonly string[];
  /** Epoch milliseconds. */
  readonly since?: number;
  readonly until?: number;
  readonly progress: boolean;
  /** Read in a thread of its own where possible (LogInputOptions.thread). */
  readonly thread: boolean;
  /** --strict: list lines not understood. */
  readonly strict: boolean;
  /** Standard error of the process is a terminal (a worker's own is not). */
  readonly stderrTty: boolean;
}

/** inputJob - the input options as a job, in the main thread. */
export function inputJob(input: LogInputOptions, strict: boolean): InputJob {
  return {
    files: input.files,
    since: input.since?.getTime(),
    until: input.until?.getTime(),
    progress: input.progress === true,
    thread: input.thread === true,
    strict,
    stderrTty: process.stderr.isTTY === true,
  };
}

/**
 * openInput - in the worker: the input options of `job` (lines not understood go to the returned
 * StrictSink), with standard error marked a terminal when the process's is.
 */
export function openInput(job: InputJob): { input: LogInputOptions; strict: StrictSink } {
  inheritStderrTty(job.stderrTty);
  const strict = new StrictSink(job.strict);
  const input: LogInputOptions = {
    files: job.files,
    since: job.since === undefined ? undefined : new Date(job.since),
    until: job.until === undefined ? undefined : new Date(job.until),
    progress: job.progress,
    onUnparsed: strict.add,
    thread: job.thread,
  };
  return { input, strict };
}

/**
 * inheritStderrTty - in a worker: standard error counts as a terminal when the process's is (a
 * worker's own stream is not one), so the progress bar is drawn as it would be in the main thread.
 */
export function inheritStderrTty(tty: boolean): void {
  if (tty) Object.defineProperty(process.stderr, 'isTTY', { value: true });
}

/** An error as data. */
export interface ErrorData {
  readonly message: string;
  readonly code?: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly stack?: string;
}

/** errorData - what is kept of an error thrown in a worker. */
export function errorData(e: unknown): ErrorData {
  const err = e as NodeJS.ErrnoException | undefined;
  return { message: err?.message ?? String(e), code: err?.code, syscall: err?.syscall, path: err?.path, stack: err?.stack };
}

/** rebuildError - the error again, on the other side. */
export function rebuildError(d: ErrorData): Error {
  const e = Object.assign(new Error(d.message), { code: d.code, syscall: d.syscall, path: d.path });
  // Where it was thrown (a bug's stack trace shows the worker's code, not this line).
  if (d.stack !== undefined) e.stack = d.stack;
  return e;
}

/** What a worker posts to its parent: its result, or the error that stopped it. */
export type WorkerAnswer<A> = { readonly ok: A } | { readonly error: ErrorData };

/**
 * answerParent - when this module runs as a worker: runs `run` on the worker's job and posts its
 * answer (WorkerAnswer). In the main thread (a test importing the worker's module) it does nothing.
 */
export function answerParent<J, A>(run: (job: J) => Promise<A>): void {
  if (isMainThread || !parentPort) return;
  const port = parentPort;
  run(workerData as J).then(
    (ok) => port.postMessage({ ok } satisfies WorkerAnswer<A>),
    (e: unknown) => port.postMessage({ error: errorData(e) } satisfies WorkerAnswer<A>),
  );
}
