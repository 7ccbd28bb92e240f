/**
 * @module test/differential/harness
 * Differential testing of mxguard's restriction engine against real Postfix.
 *
 * The corpus (test/differential/corpus/*.json, one file per configuration) holds main.cf
 * restriction settings, lookup-table sources and transactions. The harness builds ONE main.cf
 * (the common settings below) and ONE master.cf in which every configuration is an smtpd
 * service on its own loopback port carrying the configuration's settings as `-o { name = value }`
 * overrides. Postfix runs it (a private instance, test/helpers/postfix.ts) and mxguard runs the
 * same text with other port numbers (test/helpers/gateway.ts). Postfix resolves addresses
 * (authorised destination, address class) in trivial-rewrite(8), which does not see an smtpd
 * service's `-o` settings: each configuration therefore also gets its own trivial-rewrite service
 * with the same overrides, named by `-o rewrite_service_name` (mxguard ignores both).
 *
 * Each transaction is run over the wire on both servers: greeting, `EHLO`, `XCLIENT ADDR NAME
 * REVERSE_NAME` (xtext), then HELO/EHLO with the transaction's HELO (or none), MAIL FROM, each
 * RCPT TO, optionally DATA + a short message, QUIT. Every reply is recorded and normalised
 * (see normalise()); a transaction agrees when every reply matches.
 *
 * No DNS: client names come through XCLIENT, restrictions that need DNS are not in the corpus,
 * domains are example.test-style. Every network wait has a timeout; every process and temp dir is
 * removed by the caller's cleanup hooks, also on failure.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO, startGateway, type Cleanup, type Gateway } from '../helpers/gateway.js';
import { freePorts } from '../helpers/ports.js';
import { startPostfix, type PostfixInstance } from '../helpers/postfix.js';
import { startDnsServer, type Behaviour, type ZoneRecord } from '../helpers/dns-server.js';

/** Where the test DNS server listens: port 53, because Postfix's C resolver knows no other. */
export const DNS_HOST = '127.0.83.1';

export const DIFF_DIR = join(REPO, 'test/differential');
export const CORPUS_DIR = join(DIFF_DIR, 'corpus');
export const ALLOW_LIST = join(DIFF_DIR, 'allow-list.json');

// ---------------------------------------------------------------------------------------------
// Corpus

export type TableType = 'hash' | 'texthash' | 'cidr' | 'regexp' | 'pcre';

/** One SMTP session. Unset fields come from the configuration's `defaults`, then DEFAULT_TX. */
export interface TxSpec {
  readonly id: string;
  readonly note?: string;
  /** Client address given with XCLIENT ADDR (IPv6 without the `IPv6:` prefix). */
  readonly client?: string;
  /** Client hostname (XCLIENT NAME); `unknown` is sent as `[UNAVAILABLE]`. */
  readonly name?: string;
  /** Reverse client hostname (XCLIENT REVERSE_NAME); defaults to `name`. */
  readonly rev?: string;
  /** HELO argument after XCLIENT; null: no HELO/EHLO at all. */
  readonly helo?: string | null;
  /** Use HELO instead of EHLO. */
  readonly smtp?: boolean;
  /** MAIL FROM address ('' = null sender); null: no MAIL FROM. */
  readonly from?: string | null;
  readonly to?: readonly string[];
  /** Send DATA (and a message when DATA is accepted). */
  readonly data?: boolean;
  /**
   * Unauthorised pipelining: `helo` sends HELO/EHLO and MAIL FROM in one write; `data` sends
   * DATA and the message in one write (without waiting for 354).
   */
  readonly pipe?: 'helo' | 'data';
}

export interface TableSpec { readonly type: TableType; readonly lines: readonly string[] }

export interface ConfigSpec {
  readonly name: string;
  readonly description: string;
  /** Where the settings come from (a seeds/ report, or "synthetic"). */
  readonly source?: string;
  /** What was dropped or changed from the source, and why (DNS-based restrictions …). */
  readonly notes?: readonly string[];
  /** main.cf settings of this configuration; `@TABLES@` is the directory of its tables. */
  readonly main: Readonly<Record<string, string>>;
  readonly tables?: Readonly<Record<string, TableSpec>>;
  readonly defaults?: Omit<TxSpec, 'id'>;
  readonly transactions: readonly TxSpec[];
  /**
   * Records this configuration needs in the test DNS zone (both servers resolve through one test
   * DNS server on 127.0.83.1:53), and behaviours of names in it (e.g. `{"broken.test": "servfail"}`).
   */
  readonly dns?: readonly ZoneRecord[];
  readonly dnsBehaviours?: Readonly<Record<string, Behaviour>>;
  /** File the configuration was read from (set by loadCorpus). */
  file?: string;
}

export const DEFAULT_TX: Required<Omit<TxSpec, 'id' | 'note' | 'rev' | 'pipe'>> = {
  client: '192.0.2.10',
  name: 'client.example.net',
  helo: 'client.example.net',
  smtp: false,
  from: 'sender@example.net',
  to: ['alice@example.test'],
  data: false,
};

export function loadCorpus(only?: string): ConfigSpec[] {
  const files = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.json')).sort();
  const out: ConfigSpec[] = [];
  const names = new Set<string>();
  for (const f of files) {
    const spec = JSON.parse(readFileSync(join(CORPUS_DIR, f), 'utf8')) as ConfigSpec;
    spec.file = f;
    if (!spec.name || !Array.isArray(spec.transactions)) throw new Error(`${f}: needs "name" and "transactions"`);
    if (names.has(spec.name)) throw new Error(`${f}: configuration name "${spec.name}" used twice`);
    names.add(spec.name);
    const ids = new Set<string>();
    for (const t of spec.transactions) {
      if (ids.has(t.id)) throw new Error(`${f}: transaction id "${t.id}" used twice`);
      ids.add(t.id);
    }
    if (!only || spec.name === only) out.push(spec);
  }
  return out;
}

/** The complete transaction: its own fields, then the configuration's defaults, then DEFAULT_TX. */
export function resolveTx(cfg: ConfigSpec, t: TxSpec): TxSpec & typeof DEFAULT_TX {
  const merged = { ...DEFAULT_TX, ...cfg.defaults, ...t };
  return { ...merged, rev: t.rev ?? (t.name !== undefined ? undefined : cfg.defaults?.rev) ?? merged.name };
}

// ---------------------------------------------------------------------------------------------
// Configuration files

/** main.cf settings both servers get (besides their own infrastructure settings). */
export const COMMON_MAIN: Readonly<Record<string, string>> = {
  compatibility_level: '3.6',
  myhostname: 'mx.example.test',
  mydomain: 'example.test',
  myorigin: '$myhostname',
  mydestination: '$myhostname, localhost.$mydomain, localhost, $mydomain',
  relay_domains: '',
  mynetworks: '127.0.0.0/8',
  inet_interfaces: '127.0.0.1',
  inet_protocols: 'all',
  alias_maps: '',
  alias_database: '',
  // Postfix's default also reads the passwd file; the corpus knows these local users only.
  local_recipient_maps: 'inline:{ alice=1, bob=1, carol=1, root=1, postmaster=1 }',
  relayhost: '',
  // Nothing is delivered anywhere.
  default_transport: 'discard',
  local_transport: 'discard',
  virtual_transport: 'discard',
  relay_transport: 'discard',
  // The banner without $mail_name (which names the product).
  smtpd_banner: '$myhostname ESMTP',
  smtpd_authorized_xclient_hosts: '127.0.0.0/8',
  smtpd_peername_lookup: 'no',
  smtpd_error_sleep_time: '0',
  smtp_dns_support_level: 'disabled',
  smtpd_tls_security_level: 'none',
  smtp_tls_security_level: 'none',
};

/** A value for `-o { name = value }`: one line, braces balanced (master(5) grouping). */
function masterValue(name: string, value: string): string {
  const v = value.replace(/\s+/g, ' ').trim();
  let depth = 0;
  for (const c of v) {
    if (c === '{') depth++;
    else if (c === '}' && --depth < 0) break;
  }
  if (depth !== 0) throw new Error(`setting ${name}: unbalanced braces in "${value}"`);
  return `-o { ${name} = ${v} }`;
}

export function settingsOf(cfg: ConfigSpec, tablesDir: string): [string, string][] {
  return Object.entries(cfg.main).map(([k, v]) => [k, v.replaceAll('@TABLES@', join(tablesDir, cfg.name))]);
}

/**
 * The master.cf lines for all configurations, given one port per configuration. Postfix and
 * mxguard get the same text apart from the port numbers.
 */
export function servicesText(cfgs: readonly ConfigSpec[], ports: readonly number[], tablesDir: string): string {
  const lines: string[] = ['', '# mxguard differential test: one smtpd (and one trivial-rewrite) per configuration'];
  cfgs.forEach((cfg, i) => {
    const opts = settingsOf(cfg, tablesDir).map(([k, v]) => `  ${masterValue(k, v)}`);
    lines.push(`# ${cfg.name}`);
    lines.push(`127.0.0.1:${ports[i]} inet n - n - - smtpd`, `  -o syslog_name=postfix/${cfg.name}`, `  -o rewrite_service_name=rw-${i}`, ...opts);
    lines.push(`rw-${i} unix - - n - - trivial-rewrite`, ...opts);
  });
  return lines.join('\n') + '\n';
}

/** Writes each configuration's table sources under tablesDir/<config>/; hash tables get postmap. */
export function writeTables(cfgs: readonly ConfigSpec[], tablesDir: string): void {
  for (const cfg of cfgs) {
    const dir = join(tablesDir, cfg.name);
    spawnSync('mkdir', ['-p', dir]);
    chmodSync(dir, 0o755);
    for (const [name, t] of Object.entries(cfg.tables ?? {})) {
      const file = join(dir, name);
      writeFileSync(file, t.lines.join('\n') + '\n', { mode: 0o644 });
      if (t.type === 'hash') {
        const r = spawnSync('/usr/sbin/postmap', [`hash:${file}`], { encoding: 'utf8', timeout: 20_000 });
        if (r.status !== 0) throw new Error(`postmap hash:${file} failed: ${r.stderr}${r.error ?? ''}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Wire

export interface Reply { code: number; enhanced: string; text: string }
export interface Step { command: string; reply: Reply }

const CLOSED: Reply = { code: 0, enhanced: '', text: '(connection closed)' };
const TIMEOUT: Reply = { code: -1, enhanced: '', text: '(no reply within the timeout)' };
const READ_MS = 10_000;

class Wire {
  private buf = '';
  private closed = false;
  private waiters: (() => void)[] = [];
  private constructor(private readonly s: Socket) {
    s.setEncoding('latin1');
    s.on('data', (d: string) => { this.buf += d; this.wake(); });
    s.on('close', () => { this.closed = true; this.wake(); });
    s.on('error', () => { this.closed = true; this.wake(); });
  }
  private wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      const t = setTimeout(() => { s.destroy(); reject(new Error(`connect to 127.0.0.1:${port} timed out`)); }, 5000);
      s.once('connect', () => { clearTimeout(t); resolve(new Wire(s)); });
      s.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  }

  get isClosed(): boolean { return this.closed && this.buf === ''; }

  /** The next complete reply, CLOSED, or TIMEOUT. */
  async read(ms = READ_MS): Promise<{ lines: string[] } | 'closed' | 'timeout'> {
    const end = Date.now() + ms;
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*)(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return { lines: m[0].split('\r\n').filter((l) => l !== '') };
      }
      if (this.closed) return 'closed';
      const left = end - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  write(text: string): void { if (!this.closed) this.s.write(text, 'latin1'); }
  destroy(): void { this.s.destroy(); }
}

/** RFC 1891 xtext, as XCLIENT wants its values. */
export function xtext(s: string): string {
  let out = '';
  for (const ch of Buffer.from(s, 'utf8')) {
    out += ch < 33 || ch > 126 || ch === 0x2b || ch === 0x3d ? `+${ch.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(ch);
  }
  return out;
}

export const HARNESS_HELO = 'harness.example.test';

function parseReply(lines: string[], opts: { ehlo: boolean; hostname: string }): Reply {
  const code = Number(lines[0]!.slice(0, 3));
  // A successful EHLO: only the first line (the server's name) is compared; the keyword list
  // is the server's feature set, not a restriction decision (docs/differences.md).
  const kept = opts.ehlo && code === 250 ? lines.slice(0, 1) : lines;
  let enhanced = '';
  const texts = kept.map((l, i) => {
    let t = l.slice(4);
    const m = /^([245]\.\d{1,3}\.\d{1,3}) (.*)$/s.exec(t);
    if (m) { if (i === 0) enhanced = m[1]!; t = m[2]!; }
    return t;
  });
  return { code, enhanced, text: normaliseText(texts.join('\n'), opts.hostname) };
}

/** Masks what legitimately differs between two servers: their name and queue ids. */
export function normaliseText(text: string, hostname: string): string {
  let t = text;
  if (hostname) t = t.split(hostname).join('$myhostname');
  return t.replace(/queued as [0-9A-Za-z]+/g, 'queued as QUEUEID');
}

const MESSAGE = [
  'From: <sender@example.net>', 'To: <alice@example.test>', 'Subject: differential test', 'Message-ID: <diff@example.net>',
  '', 'A short message for the differential test.', '.', '',
].join('\r\n');

/** runTransaction - one session against `port`; every reply in order. Never throws. */
export async function runTransaction(port: number, cfg: ConfigSpec, spec: TxSpec): Promise<Step[]> {
  const tx = resolveTx(cfg, spec);
  const hostname = (cfg.main.myhostname ?? COMMON_MAIN.myhostname)!;
  const steps: Step[] = [];
  let wire: Wire;
  try {
    wire = await Wire.open(port);
  } catch (e) {
    return [{ command: 'CONNECT', reply: { code: -2, enhanced: '', text: `(cannot connect: ${(e as Error).message})` } }];
  }
  const deadline = setTimeout(() => wire.destroy(), 30_000);
  let dead = false;
  const expect = async (command: string, ehlo = false): Promise<Reply> => {
    let reply: Reply;
    if (dead) reply = CLOSED;
    else {
      const r = await wire.read();
      if (r === 'closed') { reply = CLOSED; dead = true; } else if (r === 'timeout') { reply = TIMEOUT; dead = true; } else reply = parseReply(r.lines, { ehlo, hostname });
    }
    steps.push({ command, reply });
    return reply;
  };
  const cmd = async (line: string, ehlo = false): Promise<Reply> => {
    if (!dead) wire.write(`${line}\r\n`);
    return expect(line, ehlo);
  };
  try {
    await expect('CONNECT');
    await cmd(`EHLO ${HARNESS_HELO}`, true);
    const attrs = [`ADDR=${xtext(tx.client.includes(':') ? `IPv6:${tx.client}` : tx.client)}`,
      `NAME=${tx.name === 'unknown' ? '[UNAVAILABLE]' : xtext(tx.name)}`,
      `REVERSE_NAME=${tx.rev === 'unknown' ? '[UNAVAILABLE]' : xtext(tx.rev ?? tx.name)}`];
    await cmd(`XCLIENT ${attrs.join(' ')}`);
    const heloLine = tx.helo === null ? undefined : `${tx.smtp ? 'HELO' : 'EHLO'} ${tx.helo}`;
    const mailLine = tx.from === null ? undefined : `MAIL FROM:<${tx.from}>`;
    if (heloLine && mailLine && tx.pipe === 'helo') {
      if (!dead) wire.write(`${heloLine}\r\n${mailLine}\r\n`);
      await expect(heloLine, !tx.smtp);
      await expect(mailLine);
    } else {
      if (heloLine) await cmd(heloLine, !tx.smtp);
      if (mailLine) await cmd(mailLine);
    }
    for (const r of tx.to) await cmd(`RCPT TO:<${r}>`);
    if (tx.data && tx.pipe === 'data') {
      // DATA and the message in one write, without waiting for 354.
      if (!dead) wire.write(`DATA\r\n${MESSAGE}`);
      const r = await expect('DATA');
      if (r.code === 354) await expect('(message).');
      else {
        // The message lines are read as commands: record what each server says, briefly.
        for (let i = 0; i < 8 && !dead; i++) {
          const more = await wire.read(1500);
          if (more === 'closed') { steps.push({ command: '(pipelined message line)', reply: CLOSED }); dead = true; } else if (more === 'timeout') break;
          else steps.push({ command: '(pipelined message line)', reply: parseReply(more.lines, { ehlo: false, hostname }) });
        }
      }
    } else if (tx.data) {
      const r = await cmd('DATA');
      if (r.code === 354) {
        if (!dead) wire.write(MESSAGE);
        await expect('(message).');
      }
    }
    await cmd('QUIT');
  } finally {
    clearTimeout(deadline);
    wire.destroy();
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------
// Comparison

export interface TxResult {
  readonly config: string;
  readonly tx: string;
  readonly note?: string;
  readonly postfix: readonly Step[];
  readonly mxguard: readonly Step[];
  readonly agree: boolean;
  /** Index of the first differing reply. */
  readonly at?: number;
  /** The allow-list entry that excuses this disagreement. */
  readonly allowed?: string;
}

export interface AllowEntry { readonly config: string; readonly tx?: string; readonly command?: string; readonly reason: string }

export function loadAllowList(): AllowEntry[] {
  if (!existsSync(ALLOW_LIST)) return [];
  const v = JSON.parse(readFileSync(ALLOW_LIST, 'utf8')) as { entries?: AllowEntry[] };
  return v.entries ?? [];
}

function sameReply(a: Reply, b: Reply): boolean { return a.code === b.code && a.enhanced === b.enhanced && a.text === b.text; }

export function compare(config: string, spec: TxSpec, postfix: Step[], mxguard: Step[], allow: readonly AllowEntry[]): TxResult {
  const n = Math.max(postfix.length, mxguard.length);
  let at: number | undefined;
  for (let i = 0; i < n; i++) {
    const p = postfix[i]; const m = mxguard[i];
    if (!p || !m || p.command !== m.command || !sameReply(p.reply, m.reply)) { at = i; break; }
  }
  const base = { config, tx: spec.id, ...(spec.note ? { note: spec.note } : {}), postfix, mxguard };
  if (at === undefined) return { ...base, agree: true };
  const command = (postfix[at] ?? mxguard[at])!.command;
  const hit = allow.find((a) => a.config === config && (!a.tx || a.tx === spec.id) && (!a.command || command.startsWith(a.command)));
  return { ...base, agree: false, at, ...(hit ? { allowed: hit.reason } : {}) };
}

export function fmtReply(r: Reply | undefined): string {
  if (!r) return '(nothing)';
  return `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text.replace(/\n/g, ' | ')}`;
}

function generalise(s: string): string {
  return s.replace(/<[^>]*>/g, '<…>').replace(/\b\d{1,3}(\.\d{1,3}){3}\b/g, 'ADDR').replace(/\[[^\]]*\]/g, '[…]');
}

/**
 * A cause key for grouping: the command verb and mxguard's reply, addresses and names
 * generalised (one mxguard shortcoming usually shows against several different Postfix answers).
 */
export function causeOf(r: TxResult): string {
  const i = r.at ?? 0;
  const p = r.postfix[i]; const m = r.mxguard[i];
  const cmd = ((p ?? m)?.command ?? '').split(/[ :]/)[0]!.toUpperCase() || '(message)';
  return `${cmd}: mxguard "${generalise(fmtReply(m?.reply))}"`;
}

/** Postfix's replies (generalised) at the first difference, with counts. */
export function postfixAnswers(items: readonly TxResult[]): string {
  const c = new Map<string, number>();
  for (const r of items) { const k = generalise(fmtReply(r.postfix[r.at ?? 0]?.reply)); c.set(k, (c.get(k) ?? 0) + 1); }
  return [...c.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}× "${k}"`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Run

export interface RunSummary {
  readonly results: readonly TxResult[];
  readonly configs: number;
  readonly transactions: number;
  readonly agree: number;
  readonly allowed: number;
  readonly ms: number;
  /** Configurations mxguard refused to start with, and why. */
  readonly refused: ReadonlyMap<string, string>;
  /**
   * Transactions whose Postfix transcript shows that the harness, not the configuration, failed:
   * Postfix did not accept the XCLIENT attributes, or a server did not answer in time.
   */
  readonly harnessErrors: readonly string[];
}

/** harnessError - why Postfix's transcript is unusable for comparison, or undefined. */
export function harnessError(steps: readonly Step[]): string | undefined {
  const x = steps.find((s) => s.command.startsWith('XCLIENT'));
  if (!x) return `no XCLIENT step (${steps.map((s) => fmtReply(s.reply)).join('; ').slice(0, 200)})`;
  const r = x.reply;
  // 220: accepted. A 4xx/5xx from smtpd_client_restrictions (smtpd_delay_reject = no) also means
  // Postfix applied the new client attributes.
  if (r.code !== 220 && (r.code < 400 || /XCLIENT|syntax|not authorized|not implemented|unrecognized/i.test(r.text) || r.code === 500 || r.code === 502)) {
    return `Postfix refused XCLIENT: ${fmtReply(r)}`;
  }
  const bad = steps.find((s) => s.reply.code === -1 || s.reply.code === -2);
  if (bad) return `Postfix: ${bad.command}: ${bad.reply.text}`;
  return undefined;
}

/** Why the differential test cannot run here, or undefined. */
export function missingDeps(): string | undefined {
  if (!existsSync('/usr/sbin/postfix')) return '/usr/sbin/postfix not found (install postfix)';
  if (!existsSync('/usr/sbin/postmap')) return '/usr/sbin/postmap not found (install postfix)';
  if (userInfo().uid !== 0) return 'Postfix must be started as root';
  return undefined;
}

async function greets(port: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const w = await Wire.open(port);
      const r = await w.read(3000);
      w.destroy();
      if (typeof r === 'object') return true;
    } catch { /* not yet */ }
    await new Promise((res) => setTimeout(res, 100));
  }
  return false;
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]!); }
  }));
  return out;
}

export interface RunOptions {
  /** Only this configuration. */
  readonly only?: string;
  /** Transactions in flight at once per server. */
  readonly concurrency?: number;
  /** Called with progress lines (start-up, refusals). */
  readonly log?: (line: string) => void;
}

/**
 * runDifferential - starts Postfix and mxguard with the corpus, runs every transaction on both,
 * compares. Cleanups are registered on `t` (a TestContext; the report passes its own).
 * Returns undefined when the test was skipped (Postfix missing).
 */
export async function runDifferential(t: TestContext, opts: RunOptions = {}): Promise<RunSummary | undefined> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const cfgs = loadCorpus(opts.only);
  if (cfgs.length === 0) throw new Error(`no configuration named "${opts.only}" in ${CORPUS_DIR}`);
  const allow = loadAllowList();
  const work = mkdtempSync(join(tmpdir(), 'mxg-diff-'));
  chmodSync(work, 0o755);
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const tablesDir = join(work, 'tables');
  writeTables(cfgs, tablesDir);

  const ports = await freePorts(cfgs.length * 2);
  const pfPorts = ports.slice(0, cfgs.length);
  const mxPorts = ports.slice(cfgs.length);

  // One zone for all configurations; Postfix (in its own mount namespace) and mxguard both ask it.
  const records = cfgs.flatMap((c) => c.dns ?? []);
  const useDns = records.length > 0 || cfgs.some((c) => c.dnsBehaviours);
  if (useDns) {
    const dns = await startDnsServer(t, { records, host: DNS_HOST, port: 53 });
    for (const c of cfgs) for (const [name, b] of Object.entries(c.dnsBehaviours ?? {})) dns.setBehaviour(name, b);
  }
  const pf: PostfixInstance | undefined = await startPostfix(t, {
    relayhost: '',
    main: COMMON_MAIN,
    master: (text) => text + servicesText(cfgs, pfPorts, tablesDir),
    ...(useDns ? { nameservers: [DNS_HOST] } : {}),
  });
  if (!pf) return undefined;
  for (let i = 0; i < cfgs.length; i++) {
    if (!(await greets(pfPorts[i]!))) throw new Error(`Postfix service for ${cfgs[i]!.name} (port ${pfPorts[i]}) does not greet; log:\n${pf.log().slice(-4000)}`);
  }
  log(`Postfix up: ${cfgs.length} services`);

  // mxguard: the same main.cf settings and the same master.cf (the package's services included).
  const pfMaster = readFileSync(join(pf.configDir, 'master.cf'), 'utf8');
  const baseServices = pfMaster.slice(0, pfMaster.indexOf('\n# mxguard differential test')).replace(/^127\.0\.0\.1:\d+\s+inet\s.*$/m, '');
  const mxMain = useDns ? { ...COMMON_MAIN, mxguard_dns_servers: DNS_HOST } : COMMON_MAIN;
  const refused = new Map<string, string>();
  const mxPortOf = new Map<string, number>();
  const cleanup: Cleanup = { after: (f) => t.after(f as () => void) };
  try {
    await startGateway(cleanup, mxMain, { master: () => baseServices + servicesText(cfgs, mxPorts, tablesDir) });
    cfgs.forEach((c, i) => mxPortOf.set(c.name, mxPorts[i]!));
  } catch (e) {
    // One configuration mxguard refuses would hide all others: start one mxguard per configuration.
    log(`mxguard refused the combined configuration (${firstLine(e)}); starting one mxguard per configuration`);
    await pool(cfgs.map((c, i) => [c, i] as const), 2, async ([c, i]) => {
      // Another test process may take a port between choosing and listening: try fresh ones.
      for (let attempt = 0, port = mxPorts[i]!; ; attempt++) {
        try {
          await startGateway(cleanup, mxMain, { master: () => baseServices + servicesText([c], [port], tablesDir) });
          mxPortOf.set(c.name, port);
          break;
        } catch (err) {
          if (attempt < 3 && /address already in use/.test(String(err))) { port = (await freePorts(1))[0]!; continue; }
          refused.set(c.name, firstLine(err));
          break;
        }
      }
    });
  }

  const jobs = cfgs.flatMap((c, i) => c.transactions.map((tx) => ({ c, i, tx })));
  const results = await pool(jobs, opts.concurrency ?? 6, async ({ c, i, tx }) => {
    const mxPort = mxPortOf.get(c.name);
    const [p, m] = await Promise.all([
      runTransaction(pfPorts[i]!, c, tx),
      mxPort === undefined
        ? Promise.resolve([{ command: 'CONNECT', reply: { code: -3, enhanced: '', text: `(mxguard refused the configuration: ${refused.get(c.name)})` } }])
        : runTransaction(mxPort, c, tx),
    ]);
    return compare(c.name, tx, p, m, allow);
  });
  return {
    results,
    configs: cfgs.length,
    transactions: results.length,
    agree: results.filter((r) => r.agree).length,
    allowed: results.filter((r) => !r.agree && r.allowed).length,
    ms: Date.now() - started,
    refused,
    harnessErrors: results.flatMap((r) => { const e = harnessError(r.postfix); return e ? [`${r.config}/${r.tx}: ${e}`] : []; }),
  };
}

function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split('\n').find((l) => /error|fatal|refus|cannot|unknown|invalid/i.test(l))?.trim().slice(0, 300) ?? s.split('\n')[0]!.slice(0, 300);
}

/** The summary line printed by the test. */
export function summaryLine(s: RunSummary): string {
  return `differential: ${s.transactions} transactions over ${s.configs} configurations, ${s.agree} agree` +
    (s.allowed ? ` (${s.allowed} more differ as listed in docs/differences.md)` : '') + ` [${(s.ms / 1000).toFixed(1)} s]`;
}

/** One disagreement, fully: the configuration, the transaction, and both transcripts up to the first difference. */
export function describe(r: TxResult, full = false): string {
  const out = [`${r.config} / ${r.tx}${r.note ? ` (${r.note})` : ''}${r.allowed ? ` [allowed: ${r.allowed}]` : ''}`];
  const at = r.at ?? 0;
  if (full) {
    for (const [who, steps] of [['Postfix', r.postfix], ['mxguard', r.mxguard]] as const) {
      out.push(`  ${who}:`);
      for (const st of steps) out.push(`    ${st.command}  →  ${fmtReply(st.reply)}`);
    }
    return out.join('\n');
  }
  for (let i = 0; i <= at; i++) {
    const p = r.postfix[i]; const m = r.mxguard[i];
    const cmd = (p ?? m)?.command ?? '?';
    if (i < at) out.push(`    ${cmd}  →  ${fmtReply(p?.reply)}`);
    else {
      out.push(`  ✗ ${cmd}${m && p && m.command !== p.command ? `  (mxguard: ${m.command})` : ''}`);
      out.push(`      Postfix: ${fmtReply(p?.reply)}`);
      out.push(`      mxguard: ${fmtReply(m?.reply)}`);
    }
  }
  return out.join('\n');
}

/** Disagreements grouped by cause, largest group first. */
export function grouped(results: readonly TxResult[]): { cause: string; items: TxResult[] }[] {
  const g = new Map<string, TxResult[]>();
  for (const r of results) {
    if (r.agree) continue;
    const k = causeOf(r);
    g.set(k, [...(g.get(k) ?? []), r]);
  }
  return [...g.entries()].map(([cause, items]) => ({ cause, items })).sort((a, b) => b.items.length - a.items.length);
}
