/**
 * @module cli/serve
 * `mxguard serve`: loads the configuration once, recovers the spool, starts the queue manager
 * and one listener per master.cf smtpd service.
 *
 * With `mxguard_workers = N > 1` the process is split like Postfix's master/smtpd/qmgr: the
 * primary recovers the spool, runs the queue manager and keeps the per-client connection
 * counts; N worker processes share the listening sockets and run the SMTP sessions, handing
 * each queued message to the primary over IPC. A worker that dies is replaced.
 *
 * Signals (to the primary): SIGTERM/SIGINT stop accepting, let sessions finish until
 * mxguard_shutdown_timeout, leave the spool consistent. SIGHUP reloads the configuration (a
 * bad one is reported and the running one kept). SIGUSR1 flushes the queue.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../config/types.js';
import { createLogger, type Logger } from '../log/logger.js';
import { startListHealth } from '../dnsbl/index.js';
import { closeStores } from '../state/index.js';
import { Spool, type QueuedMessage } from '../queue/spool.js';
import { QueueManager } from '../queue/qmgr.js';
import { setQueueIdWorker } from '../queue/queue-id.js';
import { PasswdFile } from '../auth/passwd.js';
import { LocalConnectionCounter, SmtpListener, type ConnectionCounter, type ListenerDeps } from '../smtp/listener.js';
import { checkRelaySafety, lintRestrictions, type LintProblem } from '../engine/index.js';

export function printWarnings(loaded: LoadedConfig): void {
  for (const w of loaded.warnings) {
    process.stderr.write(`mxguard: warning: ${w.file ? `${w.file}${w.line ? `:${w.line}` : ''}: ` : ''}${w.message}\n`);
  }
}

/** Start-up checks that Postfix makes fatal (smtpd_check.c relay safety). */
function checkStartup(loaded: LoadedConfig): void {
  for (const l of loaded.listeners) {
    const problem = checkRelaySafety(l.config);
    if (problem) throw new ConfigError(`service ${l.service}: ${problem}`);
  }
}

/**
 * Restriction-list problems of every service, once each, with where the list was set. At
 * start-up they are warnings (the affected requests get 451 4.3.5); `mxguard config` fails on errors.
 */
export function restrictionProblems(loaded: LoadedConfig): string[] {
  const seen = new Set<string>();
  for (const l of loaded.listeners) {
    for (const p of lintRestrictions(l.config)) {
      const o = l.config.origin(p.param);
      seen.add(`${p.level}: ${o ? `${o.file}${o.line ? `:${o.line}` : ''}: ` : ''}${p.param}: ${p.message}`);
    }
  }
  return [...seen];
}

export type { LintProblem };

function reloadConfig(dir: string | undefined, logger: Logger): LoadedConfig | undefined {
  try {
    const next = loadConfig({ dir });
    checkStartup(next);
    for (const w of next.warnings) logger.line('master', `warning: ${w.file ?? ''}${w.line ? `:${w.line}` : ''}: ${w.message}`);
    return next;
  } catch (e) {
    logger.line('master', `warning: reload failed, keeping the running configuration: ${(e as Error).message}`);
    return undefined;
  }
}

function newLogger(loaded: LoadedConfig): Logger {
  const cfg = loaded.config;
  return createLogger({ file: cfg.get('maillog_file'), host: cfg.get('myhostname'), syslogName: cfg.get('syslog_name') });
}

function newPasswd(loaded: LoadedConfig, logger: Logger): PasswdFile {
  return new PasswdFile(loaded.config.get('mxguard_passwd_file'), {
    onWarning: (w) => logger.line('smtpd', `warning: ${w.file ?? ''}${w.line ? `:${w.line}` : ''}: ${w.message}`),
  });
}

/** Like Postfix's master.lock: one server per state directory, or the two would recover each other's mail. */
function checkNotRunning(loaded: LoadedConfig): void {
  const pidFile = loaded.config.get('mxguard_pid_file');
  let pid: number;
  try { pid = Number(readFileSync(pidFile, 'utf8').trim()); } catch { return; }
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
  try { process.kill(pid, 0); } catch { return; } // stale pid file
  throw new ConfigError(`another mxguard (pid ${pid}, from ${pidFile}) is running with this queue; stop it first (or remove ${pidFile} if that process is not mxguard)`);
}

function writePidFile(loaded: LoadedConfig): string {
  const pidFile = loaded.config.get('mxguard_pid_file');
  mkdirSync(dirname(pidFile), { recursive: true });
  writeFileSync(pidFile, `${process.pid}\n`);
  return pidFile;
}

function listenLine(loaded: LoadedConfig, addrs: { host: string; port: number; service: string }[]): string {
  const where = addrs.map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (${a.service})`).join(', ');
  return `daemon started -- version ${loaded.config.get('mail_version')}, configuration ${loaded.dir ?? '(embedded defaults)'}, listening on ${where}`;
}

function reloadedLine(next: LoadedConfig): string {
  return `reload -- version ${next.config.get('mail_version')}, configuration ${next.dir ?? '(embedded defaults)'}`;
}

/**
 * The signals of a serving process: SIGTERM/SIGINT end it once (`terminate`, then exit 0),
 * SIGUSR1 flushes the queue, SIGHUP reloads.
 */
function onSignals(logger: Logger, qmgr: QueueManager, pidFile: string, h: { terminate: () => Promise<void>; reload: () => Promise<void> | void }): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.line('master', `terminating on signal ${signal}`);
    await h.terminate();
    try { unlinkSync(pidFile); } catch { /* already gone */ }
    logger.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGUSR1', () => { logger.line('qmgr', 'flush requested'); void qmgr.flush(); });
  process.on('SIGHUP', () => { logger.reopen(); void h.reload(); });
}

/** The SMTP listeners of one process, with SIGHUP replacement. */
class ListenerSet {
  listeners: SmtpListener[] = [];
  constructor(private readonly deps: ListenerDeps) {}

  async start(loaded: LoadedConfig): Promise<void> {
    this.listeners = loaded.listeners.map((spec) => new SmtpListener(spec, this.deps));
    for (const l of this.listeners) await l.listen();
  }

  addresses() { return this.listeners.map((l) => ({ ...l.address, service: l.spec.service })); }

  /** Old sessions finish on the old configuration; new connections get the new one. */
  async replace(next: LoadedConfig, logger: Logger): Promise<boolean> {
    const old = this.listeners;
    await Promise.all(old.map((l) => l.stopAccepting()));
    const fresh = next.listeners.map((spec) => new SmtpListener(spec, this.deps));
    try {
      for (const l of fresh) await l.listen();
    } catch (e) {
      logger.line('master', `warning: reload could not listen: ${(e as Error).message}; restoring the previous listeners`);
      for (const l of fresh) void l.close(0);
      this.listeners = old.map((l) => new SmtpListener(l.spec, this.deps));
      for (const l of this.listeners) await l.listen().catch(() => {});
      return false;
    }
    this.listeners = fresh;
    return true;
  }

  close(deadlineMs: number): Promise<unknown> { return Promise.all(this.listeners.map((l) => l.close(deadlineMs))); }
}

export async function serve(opts: { config?: string }): Promise<void> {
  const loaded = loadConfig({ dir: opts.config });
  if (cluster.isWorker) return serveWorker(opts, loaded);
  printWarnings(loaded);
  checkStartup(loaded);
  for (const p of restrictionProblems(loaded)) process.stderr.write(`mxguard: warning: ${p.replace(/^(error|warning): /, '')}\n`);
  checkNotRunning(loaded);
  const workers = loaded.config.int('mxguard_workers');
  return workers > 1 ? servePrimary(opts, loaded, workers) : serveSingle(opts, loaded);
}

/** Everything in one process (the default). */
async function serveSingle(opts: { config?: string }, first: LoadedConfig): Promise<void> {
  let loaded = first;
  const logger = newLogger(loaded);
  // One process writes the spool: small messages can share flushes in a segment.
  const spool = new Spool(loaded.config.get('queue_directory'), { segments: true });
  const qmgr = new QueueManager(loaded.config, spool, logger);
  await qmgr.start();
  const set = new ListenerSet({
    counter: new LocalConnectionCounter(), logger, spool, passwd: newPasswd(loaded, logger),
    onQueued: (m: QueuedMessage) => qmgr.notify(m.envelope.id, m),
  });
  await set.start(loaded);
  const listHealth = startListHealth(loaded.config, logger);
  const pidFile = writePidFile(loaded);
  logger.line('master', listenLine(loaded, set.addresses()));

  onSignals(logger, qmgr, pidFile, {
    async terminate() {
      const deadline = loaded.config.time('mxguard_shutdown_timeout') * 1000;
      await set.close(deadline);
      listHealth.stop();
      await qmgr.stop(Math.min(deadline, 10000));
      spool.segments?.close();
      // SQLite writes pending for this turn reach the file; Redis connections end.
      await closeStores().catch(() => undefined);
    },
    async reload() {
      const next = reloadConfig(opts.config, logger);
      if (!next || !(await set.replace(next, logger))) return;
      loaded = next;
      qmgr.reconfigure(next.config);
      logger.line('master', reloadedLine(next));
    },
  });
}

type FromWorker =
  | { type: 'ready'; addresses: { host: string; port: number; service: string }[] }
  | { type: 'deferred'; id: string }
  | { type: 'acquire'; seq: number; address: string }
  | { type: 'release'; address: string };

type ToWorker = { type: 'acquired'; seq: number; count: number };

/** Primary of a multi-process server: spool recovery, queue manager, connection counts. */
async function servePrimary(opts: { config?: string }, first: LoadedConfig, n: number): Promise<void> {
  let loaded = first;
  const logger = newLogger(loaded);
  const spool = new Spool(loaded.config.get('queue_directory'));
  const qmgr = new QueueManager(loaded.config, spool, logger);
  await qmgr.start();
  const counts = new LocalConnectionCounter();
  // Workers accept on the shared sockets themselves: no hand-off through the primary.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  const live = new Map<number, Worker>();
  let readyOnce: (() => void) | undefined;
  const ready = new Promise<void>((r) => { readyOnce = r; });
  let readyCount = 0;
  let addresses: { host: string; port: number; service: string }[] = [];

  const fork = (index: number) => {
    const w = cluster.fork({ MXGUARD_WORKER_INDEX: String(index) });
    live.set(index, w);
    w.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          addresses = m.addresses;
          if (++readyCount === n) readyOnce?.();
          break;
        case 'deferred': void qmgr.adopt(m.id); break;
        case 'acquire': w.send({ type: 'acquired', seq: m.seq, count: counts.acquire(m.address) } satisfies ToWorker); break;
        case 'release': counts.release(m.address); break;
      }
    });
    w.on('exit', (code, signal) => {
      live.delete(index);
      // Whatever the worker had accepted but not yet delivered is delivered from here.
      if (w.process.pid) void qmgr.recoverWorker(w.process.pid);
      if (stopping) return;
      logger.line('master', `warning: worker ${index} (pid ${w.process.pid}) exited with ${signal ?? code}; starting a new one`);
      setTimeout(() => { if (!stopping) fork(index); }, 500);
    });
  };
  for (let i = 1; i <= n; i++) fork(i);
  await ready;
  const pidFile = writePidFile(loaded);
  logger.line('master', `${listenLine(loaded, addresses)} with ${n} workers`);

  onSignals(logger, qmgr, pidFile, {
    async terminate() {
      stopping = true;
      const deadline = loaded.config.time('mxguard_shutdown_timeout') * 1000;
      const exits = [...live.values()].map((w) => new Promise<void>((r) => {
        if (w.isDead()) return r();
        w.once('exit', () => r());
        w.process.kill('SIGTERM');
        setTimeout(() => w.process.kill('SIGKILL'), deadline + 5000).unref();
      }));
      await Promise.all(exits);
      await qmgr.stop(Math.min(deadline, 10000));
    },
    reload() {
      const next = reloadConfig(opts.config, logger);
      if (!next) return;
      loaded = next;
      qmgr.reconfigure(next.config);
      for (const w of live.values()) w.process.kill('SIGHUP');
      logger.line('master', reloadedLine(next));
    },
  });
}

/** Connection counts kept by the primary, asked over IPC. */
class PrimaryConnectionCounter implements ConnectionCounter {
  private seq = 0;
  private readonly waiting = new Map<number, (n: number) => void>();
  constructor() {
    process.on('message', (m: ToWorker) => {
      if (m.type === 'acquired') { this.waiting.get(m.seq)?.(m.count); this.waiting.delete(m.seq); }
    });
  }
  acquire(address: string): Promise<number> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve);
      process.send!({ type: 'acquire', seq, address } satisfies FromWorker);
    });
  }
  release(address: string): void { process.send?.({ type: 'release', address } satisfies FromWorker); }
}

/**
 * A worker: SMTP sessions, group commit into its own segment, and the first delivery attempt
 * of what it accepted; retries belong to the primary.
 */
async function serveWorker(opts: { config?: string }, first: LoadedConfig): Promise<void> {
  setQueueIdWorker(Number(process.env.MXGUARD_WORKER_INDEX ?? 1));
  const logger = newLogger(first);
  const spool = new Spool(first.config.get('queue_directory'), { segments: true });
  await spool.init();
  const qmgr = new QueueManager(first.config, spool, logger, {
    firstAttemptOnly: true,
    onDeferred: (id) => process.send?.({ type: 'deferred', id } satisfies FromWorker),
  });
  const set = new ListenerSet({
    counter: new PrimaryConnectionCounter(), logger, spool, passwd: newPasswd(first, logger),
    onQueued: (m: QueuedMessage) => qmgr.notify(m.envelope.id, m),
  });
  await set.start(first);
  // Each worker keeps its own list health, in its own state file (dnsbl/health healthFileOf()).
  const listHealth = startListHealth(first.config, logger);
  process.send!({ type: 'ready', addresses: set.addresses() } satisfies FromWorker);
  // Without its primary a worker must not keep the port: the queue would not be delivered.
  process.on('disconnect', () => process.exit(1));
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await set.close(first.config.time('mxguard_shutdown_timeout') * 1000);
    listHealth.stop();
    await qmgr.stop(10000);
    spool.segments?.close();
    await closeStores().catch(() => undefined);
    logger.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => { /* the primary decides; it sends SIGTERM */ });
  process.on('SIGHUP', () => void (async () => {
    logger.reopen();
    const next = reloadConfig(opts.config, logger);
    if (next && await set.replace(next, logger)) qmgr.reconfigure(next.config);
  })());
}
