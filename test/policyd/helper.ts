/**
 * `mxguard policy --config DIR` as a child process for tests, on a free loopback port (or a
 * UNIX socket), killed and its directory removed in t.after; and a small policy client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, type Cleanup } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';

export interface PolicyService {
  readonly port: number;
  readonly dir: string;
  readonly listen: string;
  log(): string;
  waitLog(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  proc: ChildProcess;
}

export async function startPolicy(t: Cleanup, main: Record<string, string> = {}, opts: { unix?: boolean } = {}): Promise<PolicyService> {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-policy-'));
  const port = await freePort();
  const listen = opts.unix ? `unix:${join(dir, 'policy.sock')}` : `127.0.0.1:${port}`;
  const logFile = join(dir, 'maillog');
  const all: Record<string, string> = {
    myhostname: 'mx.example.test', mxguard_state_directory: join(dir, 'var'), maillog_file: logFile,
    mxguard_dns_servers: '127.0.0.1:9', mxguard_policy_listen: listen, ...main,
  };
  writeFileSync(join(dir, 'main.cf'), Object.entries(all).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  let stderr = '';
  const proc = spawn(process.execPath, [CLI, 'policy', '--config', dir], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  proc.stderr!.on('data', (d) => { stderr += d; });
  t.after(async () => {
    if (proc.exitCode === null && !proc.signalCode) {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const k = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(k);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const svc: PolicyService = {
    port, dir, listen, log, proc,
    async waitLog(pattern, ms = 10_000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = log().match(pattern);
        if (m) return m;
        if (Date.now() > end) throw new Error(`log never matched ${pattern}; log:\n${log().slice(-3000)}\nstderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
  const end = Date.now() + 15_000;
  while (!/daemon started/.test(log())) {
    if (proc.exitCode !== null) throw new Error(`mxguard policy exited with ${proc.exitCode}: ${stderr}`);
    if (Date.now() > end) throw new Error(`mxguard policy did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return svc;
}

/** A policy client on one connection: ask() sends a request and reads one reply (or `closed`). */
export class PolicyClient {
  private buf = '';
  private closed = false;
  private waiters: (() => void)[] = [];
  private constructor(readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { this.buf += d; this.wake(); });
    sock.on('close', () => { this.closed = true; this.wake(); });
    sock.on('error', () => { this.closed = true; this.wake(); });
  }
  private wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  static connect(svc: PolicyService): Promise<PolicyClient> {
    return new Promise((resolve, reject) => {
      const s = svc.listen.startsWith('unix:') ? connect(svc.listen.slice(5)) : connect(svc.port, '127.0.0.1');
      const t = setTimeout(() => { s.destroy(); reject(new Error('connect timeout')); }, 5000);
      s.once('connect', () => { clearTimeout(t); resolve(new PolicyClient(s)); });
      s.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  }

  send(raw: string): void { this.sock.write(raw); }

  /** The next reply's action (without `action=`), or 'closed' when the server hung up. */
  async reply(ms = 5000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const k = this.buf.indexOf('\n\n');
      if (k >= 0) {
        const r = this.buf.slice(0, k);
        this.buf = this.buf.slice(k + 2);
        return r.replace(/^action=/, '');
      }
      if (this.closed) return 'closed';
      if (Date.now() > end) throw new Error(`no policy reply within ${ms} ms; have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => { const tm = setTimeout(r, Math.max(1, end - Date.now())); this.waiters.push(() => { clearTimeout(tm); r(); }); });
    }
  }

  async ask(attrs: Record<string, string>, ms?: number): Promise<string> {
    this.send(requestText(attrs));
    return this.reply(ms);
  }

  destroy(): void { this.sock.destroy(); }
}

export function requestText(attrs: Record<string, string>): string {
  const all = { request: 'smtpd_access_policy', protocol_state: 'RCPT', protocol_name: 'ESMTP', ...attrs };
  return Object.entries(all).map(([k, v]) => `${k}=${v}\n`).join('') + '\n';
}
