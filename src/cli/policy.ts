/**
 * @module cli/policy
 * `mxguard policy [--config DIR]`: runs the policy delegation service (src/policyd/) until
 * SIGTERM or SIGINT; SIGHUP reopens the log file and reloads the configuration (restriction
 * list, tables, greylisting settings; a new listen address needs a restart). Logs to
 * $maillog_file like `serve`.
 * XXX: loadConfig() still wants an smtpd service when DIR has a master.cf; a DIR without one
 * (main.cf only) is the usual policy-service setup.
 */
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startPolicyServer } from '../policyd/server.js';
import { greylistSettings } from '../greylist/greylist.js';
import { closeStores } from '../state/index.js';

export async function policyCommand(o: { config?: string }): Promise<void> {
  const loaded = loadConfig({ dir: o.config, requireMaster: false });
  const cfg = loaded.config;
  cfg.validate();
  const logger = createLogger({ file: cfg.get('maillog_file'), host: cfg.get('myhostname'), syslogName: cfg.get('syslog_name') });
  // The policy service runs no SMTP listener: master.cf does not matter to it.
  for (const w of loaded.warnings.filter((x) => !/master\.cf/.test(x.message))) logger.line('policy', `warning: ${w.file ?? ''}${w.line ? `:${w.line}` : ''}: ${w.message}`);
  for (const w of greylistSettings(cfg).warnings) logger.line('policy', `warning: ${w}`);
  const srv = await startPolicyServer(cfg, logger);
  logger.line('policy', `daemon started -- mxguard policy service on ${srv.address}`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.line('policy', `terminating on signal ${signal}`);
      void srv.close().then(() => closeStores()).then(() => { logger.close(); resolve(); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      logger.reopen();
      try {
        const next = loadConfig({ dir: o.config, requireMaster: false }).config;
        next.validate();
        for (const w of greylistSettings(next).warnings) logger.line('policy', `warning: ${w}`);
        srv.reconfigure(next);
        if (next.get('mxguard_policy_listen') !== cfg.get('mxguard_policy_listen')) logger.line('policy', 'warning: mxguard_policy_listen changed: restart to listen on the new address');
        logger.line('policy', 'reloaded the configuration');
      } catch (e) {
        logger.line('policy', `warning: reload failed, keeping the running configuration: ${(e as Error).message}`);
      }
    });
  });
}
