/**
 * @module dnsbl/reporter
 * The running server's side of list health: watches every configured list from start-up (one
 * canary check each), logs state changes as warnings (`postfix/dnsblog[pid]: warning: dnsbl …`),
 * and keeps $mxguard_dnsbl_health_file current: written shortly after a change (at most twice a
 * second) and every $mxguard_dnsbl_health_interval. A write failure is logged once and retried
 * at the next change; it never stops mail.
 */
import type { Config } from '../config/config.js';
import { resolverFor } from '../dns/index.js';
import type { Logger } from '../log/logger.js';
import { healthFileOf, healthFor, writeHealthFile } from './health.js';
import { configuredLists } from './lists.js';

export interface HealthReporter { stop(): void; write(): void }

/** startListHealth - starts watching; returns a handle whose stop() writes the file a last time. */
export function startListHealth(cfg: Config, logger: Logger): HealthReporter {
  const resolver = resolverFor(cfg);
  const health = healthFor(cfg, resolver);
  const file = healthFileOf(cfg.get('mxguard_dnsbl_health_file'));
  const log = (text: string) => logger.line('dnsblog', text, cfg.get('syslog_name'));
  let failed = false;
  const write = () => {
    try { writeHealthFile(file, health.all()); failed = false; } catch (e) {
      if (!failed) log(`warning: cannot write ${file}: ${(e as Error).message}`);
      failed = true;
    }
  };
  let pending: NodeJS.Timeout | undefined;
  const soon = () => { if (!pending) { pending = setTimeout(() => { pending = undefined; write(); }, 500); pending.unref(); } };
  health.attach((w) => log(`warning: ${w}`), soon);
  const lists = configuredLists(cfg);
  for (const l of lists) for (const k of l.kinds) health.watch(l.domain, k);
  write();
  for (const l of lists) void health.canary(l.domain).catch(() => undefined);
  const every = setInterval(write, cfg.time('mxguard_dnsbl_health_interval') * 1000);
  every.unref();
  return {
    write,
    stop() { clearInterval(every); if (pending) clearTimeout(pending); write(); },
  };
}
