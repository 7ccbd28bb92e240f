/**
 * @module cli/run
 * How every command body runs: its number becomes the exit status; a configuration error or a
 * system error becomes one clear line (exit 1), anything else a stack trace (exit 2).
 */
import { ConfigError } from '../config/types.js';

/** Runs a command body: configuration errors become one clear line and exit status 1. */
export function run(fn: () => number | Promise<number | void> | void): Promise<void> {
  return Promise.resolve().then(fn).then((code) => {
    if (typeof code === 'number') process.exitCode = code;
  }, (e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`mxguard: fatal: ${e.message}\n`);
      process.exit(1);
    }
    // A system error (a directory that cannot be written, a file that cannot be read) is the
    // administrator's to fix: say what and where, without a stack trace.
    const sys = e as NodeJS.ErrnoException;
    if (sys && typeof sys.code === 'string' && sys.syscall) {
      process.stderr.write(`mxguard: fatal: ${sys.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`mxguard: fatal: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}
