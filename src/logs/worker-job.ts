/**
 * @module logs/worker-job
 * What crosses into and out of the worker threads of the `logs` commands (report, detect, the log
 * reader), in one place:
 *
 * - the input half of a job: the LogInputOptions a command's main thread settled on, as
 *   structured-clonable data (`inputJob`), and back into options on the worker's side (`openInput`,
 *   which also gives the worker its StrictSink and the terminal flag of standard error);
 * - an error, as data (`errorData`) and back (`rebuildError`): code, syscall and path survive, so
 *   the command line still tells a missing file (one line) from a bug (a stack trace).
 */
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
  if (job.stderrTty) Object.defineProperty(process.stderr, 'isTTY', { value: true });
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
