/**
 * @module cli/serve
 * `mxguard serve`: loads the configuration once, recovers the spool, starts the queue manager
 * and one listener per master.cf smtpd service. SIGTERM/SIGINT: stop accepting, let sessions
 * finish until mxguard_shutdown_timeout, leave the spool consistent. SIGHUP: reload the
 * configuration (a bad one is reported and the running one kept). SIGUSR1: flush the queue.
 */
import { mkdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../config/types.js';
import { createLogger, type Logger } from '../log/logger.js';
import { Spool } from '../queue/spool.js';
import { QueueManager } from '../queue/qmgr.js';
import { PasswdFile } from '../auth/passwd.js';
import { SmtpListener } from '../smtp/listener.js';
import { checkRelaySafety } from '../engine/index.js';

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

export async function serve(opts: { config?: string }): Promise<void> {
  let loaded = loadConfig({ dir: opts.config });
  printWarnings(loaded);
  checkStartup(loaded);
  const cfg = loaded.config;
  const logger: Logger = createLogger({ file: cfg.get('maillog_file'), host: cfg.get('myhostname'), syslogName: cfg.get('syslog_name') });
  const spool = new Spool(cfg.get('queue_directory'));
  await spool.init();
  const passwd = new PasswdFile(cfg.get('mxguard_passwd_file'), {
    onWarning: (w) => logger.line('smtpd', `warning: ${w.file ?? ''}${w.line ? `:${w.line}` : ''}: ${w.message}`),
  });
  const qmgr = new QueueManager(cfg, spool, logger);
  await qmgr.start();

  const deps = { logger, spool, passwd, onQueued: (id: string) => qmgr.notify(id) };
  let listeners = loaded.listeners.map((spec) => new SmtpListener(spec, deps));
  for (const l of listeners) await l.listen();
  const pidFile = cfg.get('mxguard_pid_file');
  mkdirSync(dirname(pidFile), { recursive: true });
  writeFileSync(pidFile, `${process.pid}\n`);
  for (const l of listeners) {
    const a = l.address;
    logger.line('master', `daemon started -- version ${cfg.get('mail_version')}, configuration ${loaded.dir ?? '(embedded defaults)'}, listening on ${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (${l.spec.service})`);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.line('master', `terminating on signal ${signal}`);
    const deadline = loaded.config.time('mxguard_shutdown_timeout') * 1000;
    await Promise.all(listeners.map((l) => l.close(deadline)));
    await qmgr.stop(Math.min(deadline, 10000));
    try { unlinkSync(pidFile); } catch { /* already gone */ }
    logger.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGUSR1', () => { logger.line('qmgr', 'flush requested'); void qmgr.flush(); });
  process.on('SIGHUP', () => {
    void (async () => {
      let next: LoadedConfig;
      try {
        next = loadConfig({ dir: opts.config });
        checkStartup(next);
      } catch (e) {
        logger.line('master', `warning: reload failed, keeping the running configuration: ${(e as Error).message}`);
        return;
      }
      for (const w of next.warnings) logger.line('master', `warning: ${w.file ?? ''}${w.line ? `:${w.line}` : ''}: ${w.message}`);
      const old = listeners;
      // Old sessions finish on the old configuration; new connections get the new one.
      await Promise.all(old.map((l) => l.stopAccepting()));
      const fresh = next.listeners.map((spec) => new SmtpListener(spec, deps));
      try {
        for (const l of fresh) await l.listen();
      } catch (e) {
        logger.line('master', `warning: reload could not listen: ${(e as Error).message}; restoring the previous listeners`);
        for (const l of fresh) void l.close(0);
        listeners = old.map((l) => new SmtpListener(l.spec, deps));
        for (const l of listeners) await l.listen().catch(() => {});
        return;
      }
      listeners = fresh;
      loaded = next;
      qmgr.reconfigure(next.config);
      logger.line('master', `reload -- version ${next.config.get('mail_version')}, configuration ${next.dir ?? '(embedded defaults)'}`);
    })();
  });
}
