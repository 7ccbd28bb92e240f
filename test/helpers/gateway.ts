/**
 * A real mxguard gateway for tests: `mxguard serve --config DIR` as a child process on a free
 * loopback port, with its state, mailboxes and log under a temporary directory. Killed (and
 * the directory removed) in t.after, also when the test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
/** Anything with after(): a TestContext, or node:test's suite-level hooks. */
export interface Cleanup { after(fn: () => unknown): void }
import { freePort } from './ports.js';
import { before, after } from 'node:test';

export const REPO = resolve(import.meta.dirname, '../../..');
export const CLI = join(REPO, 'dist/src/cli/main.js');

export interface Gateway {
  readonly port: number;
  readonly dir: string;
  readonly stateDir: string;
  readonly mailDir: string;
  readonly logFile: string;
  proc: ChildProcess;
  log(): string;
  /** Waits until the log contains `pattern` (or throws after `ms`). */
  waitLog(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  start(): Promise<void>;
  /** Runs the mxguard CLI against this gateway's configuration. */
  stderr(): string;
}

export interface GatewayOptions {
  /** Extra master.cf text; the default is one smtpd service on the chosen port. */
  master?: (port: number) => string;
  /** Keep the directory (for restart tests the same Gateway object is reused). */
  dir?: string;
}

export async function startGateway(t: Cleanup, main: Record<string, string> = {}, opts: GatewayOptions = {}): Promise<Gateway> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'mxg-gw-'));
  const port = await freePort();
  const stateDir = join(dir, 'var');
  const logFile = join(dir, 'maillog');
  const base: Record<string, string> = {
    myhostname: 'mx.example.test',
    mydomain: 'example.test',
    mydestination: '$myhostname, localhost, example.test',
    mxguard_state_directory: stateDir,
    maillog_file: logFile,
    smtpd_error_sleep_time: '0',
    mxguard_auth_failure_delay: '0',
    smtpd_peername_lookup: 'no',
    mynetworks: '127.0.0.1/32',
    // Tests never resolve or contact remote domains: mail to them is dropped unless a test says otherwise.
    default_transport: 'discard',
    // No DNS leaves the machine: tests that need DNS start a test server and name it here.
    mxguard_dns_servers: '127.0.0.1:9',
    mxguard_mailauth_enable: 'no',
  };
  const all = { ...base, ...main };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.cf'), Object.entries(all).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  writeFileSync(join(dir, 'master.cf'), opts.master ? opts.master(port) : `127.0.0.1:${port} inet n - n - - smtpd\n`);
  let stderr = '';
  const gw: Gateway = {
    port, dir, stateDir, mailDir: join(stateDir, 'mail'), logFile,
    proc: undefined as unknown as ChildProcess,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stderr: () => stderr,
    async waitLog(pattern, ms = 10000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = gw.log().match(pattern);
        if (m) return m;
        if (Date.now() > end) throw new Error(`log never matched ${pattern}; log:\n${gw.log().slice(-3000)}\nstderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async start() {
      const before = gw.log().split('daemon started').length;
      const proc = spawn(process.execPath, [CLI, 'serve', '--config', dir], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
      proc.stderr!.on('data', (d) => { stderr += d; });
      gw.proc = proc;
      const end = Date.now() + 15000;
      while (gw.log().split('daemon started').length <= before) {
        if (proc.exitCode !== null) throw new Error(`mxguard exited with ${proc.exitCode}: ${stderr}`);
        if (Date.now() > end) throw new Error(`mxguard did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal = 'SIGTERM') {
      const p = gw.proc;
      if (!p || p.exitCode !== null || p.signalCode) return p?.exitCode ?? null;
      const done = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), 15000);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
  t.after(async () => {
    await gw.stop('SIGKILL');
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  });
  await gw.start();
  return gw;
}

/**
 * One gateway for a whole test file: started before its first test, stopped after its last.
 * `settings` may be a function, run in the before hook, for setup that must happen first
 * (it gets a way to register its own cleanup); `afterStart` runs once the gateway is up.
 * (Top-level before hooks of node:test do not wait for each other: keep the order here.)
 */
export function sharedGateway(settings: Record<string, string> | ((cleanup: (f: () => unknown) => void) => Promise<Record<string, string>>) = {}, opts: GatewayOptions = {}, afterStart?: (gw: Gateway) => Promise<void>): { readonly gw: Gateway; readonly cleanups: (() => unknown)[] } {
  const holder = { gw: undefined as unknown as Gateway, cleanups: [] as (() => unknown)[] };
  before(async () => {
    const main = typeof settings === 'function' ? await settings((f) => holder.cleanups.push(f)) : settings;
    holder.gw = await startGateway({ after: (f) => holder.cleanups.push(f) }, main, opts);
    await afterStart?.(holder.gw);
  });
  after(async () => { for (const f of holder.cleanups.reverse()) await f(); });
  return holder;
}
