/**
 * @module test/helpers/run-cli
 * Runs the built command line (`node dist/src/cli/main.js …`) as a child process, feeding
 * standard input from a string (a pipe, so the CLI sees no terminal) and collecting its output.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Repository root: this file runs as dist/test/helpers/run-cli.js. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const cliMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunCliOptions {
  /** Written to standard input, which is then closed; without it stdin is closed at once. */
  readonly input?: string | Uint8Array;
  /** Working directory; default: the test process's. */
  readonly cwd?: string;
  /** Added to (and overriding) the test process's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Kill the child (SIGKILL) and fail after this long. Default 20 s. */
  readonly timeoutMs?: number;
  /** Script to run instead of dist/src/cli/main.js (a test's own entry point). */
  readonly entry?: string;
}

export interface CliResult {
  /** Exit status; null when the child was ended by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** runCli - runs the CLI with `args`; rejects only when it cannot start or overruns the timeout. */
export function runCli(args: readonly string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [opts.entry ?? cliMain, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  // The child may exit without reading its input; that EPIPE is not the test's concern.
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.input ?? '');
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runCli ${args.join(' ')}: no exit after ${timeoutMs} ms; stderr: ${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}
