/**
 * Shared pieces of the integration suites: system tools (skipped with a reason, or a failure
 * when MXGUARD_REQUIRE_SYSTEM_DEPS is set), child processes with a timeout, bounded waits,
 * Maildir reading, and a short SMTP conversation on the raw test client.
 */
import { spawn } from 'node:child_process';
import { accessSync, appendFileSync, constants as fsConstants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { Gateway } from '../helpers/gateway.js';
import { SmtpTestClient, type WireReply } from '../helpers/smtp-client.js';

/**
 * needTools - true when every command is on PATH. Otherwise the test is skipped with the
 * reason (return at once), or fails when MXGUARD_REQUIRE_SYSTEM_DEPS is set.
 */
export function needTools(t: TestContext, ...tools: string[]): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const onPath = (tool: string) => dirs.some((d) => { try { accessSync(join(d, tool), fsConstants.X_OK); return true; } catch { return false; } });
  const missing = tools.filter((tool) => !onPath(tool));
  if (!missing.length) return true;
  const why = `${missing.join(', ')} not installed`;
  if (process.env.MXGUARD_REQUIRE_SYSTEM_DEPS) throw new Error(`MXGUARD_REQUIRE_SYSTEM_DEPS is set but ${why}`);
  console.log(`skipped (${t.name}): ${why}`);
  t.skip(why);
  return false;
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** run - a command with arguments and optional input; SIGKILLed (and rejected) after `timeoutMs`. */
export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, cwd: opts.cwd });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.input ?? '');
  const ms = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: no exit after ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, ms);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** waitFor - polls `f` until it returns something truthy; throws `what` after `ms`. */
export async function waitFor<T>(f: () => T | undefined | false | null | Promise<T | undefined | false | null>, what: string | (() => string), ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(50);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A fresh token for a header or subject, unique across the run. */
export const token = (prefix = 'tok') => `${prefix}-${randomBytes(8).toString('hex')}`;

/** A temporary directory removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'mxg-it-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The texts of the messages in a Maildir's new/ and cur/. */
export function maildirTexts(maildir: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const d = join(maildir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      try { out.push(readFileSync(join(d, f), 'utf8')); } catch { /* renamed meanwhile */ }
    }
  }
  return out;
}

/** The Maildir of a mailbox of the gateway's embedded virtual delivery. */
export const gwMaildir = (gw: Gateway, user: string, domain = 'example.test') => join(gw.mailDir, domain, user);

/** Waits for a message containing `needle` in a Maildir and returns its text. */
export function waitForMail(maildir: string, needle: string, ms = 15_000): Promise<string> {
  return waitFor(() => maildirTexts(maildir).find((m) => m.includes(needle)), () => `a message with "${needle}" in ${maildir} (has ${maildirTexts(maildir).length})`, ms);
}

/** Appends settings to the gateway's main.cf (later lines win, as in Postfix). */
export function appendMainCf(gw: Gateway, settings: Record<string, string>): void {
  appendFileSync(join(gw.dir, 'main.cf'), Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join(''));
}

export function writeFile(path: string, text: string): void { writeFileSync(path, text); }

/** A raw client connected to the gateway, greeted, destroyed when the test ends. */
export async function connectClient(t: TestContext, port: number, opts: { localAddress?: string; tls?: boolean } = {}): Promise<{ c: SmtpTestClient; greeting: WireReply }> {
  const c = await SmtpTestClient.connect(port, opts);
  t.after(() => c.destroy());
  const greeting = await c.read();
  return { c, greeting };
}

/** Sends one message on an open (EHLO'd) session; returns the reply to the final dot. */
export async function sendMessage(c: SmtpTestClient, from: string, to: readonly string[], text: string): Promise<WireReply> {
  const m = await c.cmd(`MAIL FROM:<${from}>`);
  if (m.code !== 250) throw new Error(`MAIL FROM:<${from}>: ${m.raw}`);
  for (const r of to) {
    const x = await c.cmd(`RCPT TO:<${r}>`);
    if (x.code !== 250) throw new Error(`RCPT TO:<${r}>: ${x.raw}`);
  }
  const d = await c.cmd('DATA');
  if (d.code !== 354) throw new Error(`DATA: ${d.raw}`);
  const body = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  return c.cmd(`${body.endsWith('\r\n') ? body.slice(0, -2) : body}\r\n.`, 15_000);
}

/** The queue id from `250 2.0.0 Ok: queued as ID`. */
export function queuedId(r: WireReply): string {
  const id = /queued as ([0-9A-F]+)/.exec(r.text.join(' '))?.[1];
  if (r.code !== 250 || !id) throw new Error(`not queued: ${r.raw}`);
  return id;
}

/** One complete message: a few headers and a body. */
export function messageText(opts: { from: string; to: string; subject: string; headers?: Record<string, string>; body?: string }): string {
  const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `From: <${opts.from}>\r\nTo: <${opts.to}>\r\nSubject: ${opts.subject}\r\nMessage-ID: <${token('mid')}@client.test>\r\n${extra}\r\n${opts.body ?? 'Hello.\r\n'}`;
}
