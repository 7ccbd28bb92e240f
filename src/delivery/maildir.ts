/**
 * @module delivery/maildir
 * The virtual transport: Maildir delivery as Postfix's virtual(8) does it, mxguard's embedded
 * default for $mydestination and $virtual_mailbox_domains.
 *
 * Mailbox of a recipient:
 * - with $virtual_mailbox_maps: the value found for `user+ext@domain`, `user@domain` (extension
 *   cut at $recipient_delimiter) or `@domain`, relative to $virtual_mailbox_base; a trailing
 *   `/` means Maildir. A recipient not in the tables bounces (5.1.1), as with virtual(8);
 * - without: `$virtual_mailbox_base/<domain, lower case>/<local part>/`. A local part that is
 *   not a safe file name (`/`, NUL, `.` or `..`) bounces (5.1.3): an address must never
 *   choose a path outside its domain.
 *
 * Durability (the Maildir protocol, and DESIGN "durable before 250"): the copy is written under
 * tmp/ with a unique name (`seconds.M<usec>P<pid>Q<seq>.<host>`), fsynced, renamed into new/,
 * and new/ is fsynced, so a delivery reported as done survives a crash. Directories created on
 * the way are fsynced through their parent.
 *
 * Like virtual(8), the copy starts with `Return-Path: <sender>` and `Delivered-To: recipient`,
 * and its lines end in LF (the Maildir convention; the spool's CRLF is a wire format).
 *
 * Failure modes: any file-system error defers (4.3.0; 4.3.1 when the disk is full, 4.2.2 over
 * quota) and the partial tmp/ file is removed. An mbox path (no trailing `/`) defers with
 * 4.3.5: mxguard writes Maildir only, and a configuration mistake must not lose mail.
 *
 * XXX: no virtual_uid_maps/virtual_gid_maps (files belong to mxguard's user), no quotas.
 */
import { mkdir, open, rename, unlink, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { catalogue } from '../config/catalogue.js';
import type { Config } from '../config/config.js';
import type { DeliveryAgent, DeliveryRequest, RecipientResult } from './types.js';
import { openCachedTable } from './transport.js';
import { abortText } from './wire.js';

type Mailbox =
  | { kind: 'maildir'; path: string }
  | { kind: 'fail'; status: 'bounced' | 'deferred'; dsn: string; text: string };

/** A path component taken from an address must stay one component. */
function unsafeComponent(s: string): boolean {
  return s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\0') || s.includes(sep);
}

/** mailboxFor - where mail for `recipient` goes, or why it cannot go anywhere. */
export function mailboxFor(cfg: Config, recipient: string): Mailbox {
  const base = cfg.get('virtual_mailbox_base');
  const at = recipient.lastIndexOf('@');
  if (at <= 0 || at === recipient.length - 1) {
    return { kind: 'fail', status: 'bounced', dsn: '5.1.3', text: `bad address syntax: "${recipient}"` };
  }
  const local = recipient.slice(0, at);
  const domain = recipient.slice(at + 1).toLowerCase();

  const maps = cfg.list('virtual_mailbox_maps');
  if (maps.length) {
    const keys = [`${local}@${domain}`];
    const delims = catalogue.has('recipient_delimiter') || cfg.isExplicit('recipient_delimiter') ? cfg.get('recipient_delimiter') : '';
    const cut = delims ? [...local].findIndex((c) => delims.includes(c)) : -1;
    if (cut > 0) keys.push(`${local.slice(0, cut)}@${domain}`);
    keys.push(`@${domain}`);
    let value: string | undefined;
    for (const k of keys) {
      for (const spec of maps) {
        value = openCachedTable(spec).lookup(k);
        if (value !== undefined) break;
      }
      if (value !== undefined) break;
    }
    if (value === undefined) return { kind: 'fail', status: 'bounced', dsn: '5.1.1', text: `unknown user: "${recipient}"` };
    if (value.split('/').some((c) => c === '..') || value.includes('\0')) {
      return { kind: 'fail', status: 'deferred', dsn: '4.3.5', text: `server configuration error: mailbox "${value}" for "${recipient}" leaves $virtual_mailbox_base` };
    }
    if (!value.endsWith('/')) {
      return { kind: 'fail', status: 'deferred', dsn: '4.3.5', text: `server configuration error: mailbox "${value}" for "${recipient}" is an mbox file; mxguard delivers to Maildir only (end the path with "/")` };
    }
    return { kind: 'maildir', path: join(base, value) };
  }

  if (unsafeComponent(local)) {
    return { kind: 'fail', status: 'bounced', dsn: '5.1.3', text: `unsafe local part for a mailbox path in "${recipient}"` };
  }
  if (unsafeComponent(domain)) {
    return { kind: 'fail', status: 'bounced', dsn: '5.1.3', text: `unsafe domain for a mailbox path in "${recipient}"` };
  }
  return { kind: 'maildir', path: join(base, domain, local) };
}

let seq = 0;

/** A Maildir host part: `/` and `:` are written as octal escapes (maildir(5)). */
function safeHost(): string {
  return hostname().replace(/\//g, '\\057').replace(/:/g, '\\072') || 'localhost';
}

/** uniqueName - a tmp/ and new/ file name no other delivery, here or elsewhere, produces. */
export function uniqueName(now = Date.now()): string {
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000;
  seq = (seq + 1) % 1_000_000_000;
  return `${sec}.M${usec}P${process.pid}Q${seq}.${safeHost()}`;
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}

/** Creates `path` and missing parents (mode 0700), fsyncing each parent that gained an entry. */
async function ensureDir(path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const parent = dirname(path);
  if (parent !== path) await ensureDir(parent);
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return; // a concurrent delivery made it
    throw e;
  }
  await fsyncDir(parent);
}

/** The message with CRLF line ends turned into LF; a CR not before LF is kept. */
async function* unixLines(src: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let heldCR = false;
  for await (const raw of src) {
    let chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (!chunk.length) continue;
    if (heldCR) {
      chunk = chunk[0] === 0x0a ? chunk : Buffer.concat([Buffer.from('\r'), chunk]);
      heldCR = false;
    }
    if (chunk[chunk.length - 1] === 0x0d) { heldCR = true; chunk = chunk.subarray(0, chunk.length - 1); }
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      if (i > 0 && chunk[i - 1] === 0x0d) { parts.push(chunk.subarray(from, i - 1)); from = i; }
    }
    parts.push(chunk.subarray(from));
    yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
  if (heldCR) yield Buffer.from('\r');
}

function fsFailure(e: unknown, what: string): { status: 'deferred'; dsn: string; text: string } {
  const err = e as NodeJS.ErrnoException;
  // RFC 3463: X.3.1 mail system full, X.2.2 mailbox full, X.3.0 other mail system problem.
  const dsn = err.code === 'ENOSPC' ? '4.3.1' : err.code === 'EDQUOT' ? '4.2.2' : '4.3.0';
  return { status: 'deferred', dsn, text: `maildir delivery failed: ${what}: ${err.message}` };
}

/** deliverToMaildir - one copy of the message into the Maildir at `dir`; throws on file-system errors. */
export async function deliverToMaildir(dir: string, req: DeliveryRequest, recipient: string, signal: AbortSignal): Promise<string> {
  for (const sub of ['tmp', 'new', 'cur']) await ensureDir(join(dir, sub));
  const name = uniqueName();
  const tmpPath = join(dir, 'tmp', name);
  const newPath = join(dir, 'new', name);
  // O_EXCL: a name clash must fail, never overwrite another message (maildir(5)).
  const fh = await open(tmpPath, 'wx', 0o600);
  let renamed = false;
  const src = req.openMessage();
  try {
    await fh.write(`Return-Path: <${req.sender}>\nDelivered-To: ${recipient}\n`);
    for await (const piece of unixLines(src)) {
      if (signal.aborted) throw new Error(abortText(signal.reason));
      await fh.write(piece);
    }
    await fh.sync();
    await fh.close();
    await rename(tmpPath, newPath);
    renamed = true;
    await fsyncDir(join(dir, 'new'));
    return newPath;
  } finally {
    src.destroy();
    if (!renamed) {
      await fh.close().catch(() => undefined);
      await unlink(tmpPath).catch(() => undefined);
    }
  }
}

/** The virtual (Maildir) delivery agent. */
export const maildirAgent: DeliveryAgent = {
  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<RecipientResult[]> {
    const cfg = req.config;
    const out: RecipientResult[] = [];
    for (const r of req.recipients) {
      const t0 = performance.now();
      const result = (status: RecipientResult['status'], dsn: string, text: string): RecipientResult =>
        ({ address: r.address, status, dsn, relay: 'virtual', text, connSetup: 0, transmission: (performance.now() - t0) / 1000 });
      if (signal.aborted) { out.push(result('deferred', '4.3.0', abortText(signal.reason))); continue; }
      let box: Mailbox;
      try {
        box = mailboxFor(cfg, r.address);
      } catch (e) {
        // A table that cannot be read: keep the mail until the configuration is fixed.
        out.push(result('deferred', '4.3.5', `server configuration error: ${(e as Error).message}`));
        continue;
      }
      if (box.kind === 'fail') { out.push(result(box.status, box.dsn, box.text)); continue; }
      try {
        await deliverToMaildir(box.path, req, r.address, signal);
        out.push(result('sent', '2.0.0', 'delivered to maildir'));
      } catch (e) {
        const f = fsFailure(e, `maildir ${box.path}`);
        out.push(result(f.status, f.dsn, f.text));
      }
    }
    return out;
  },
};
